"""The demo model's name, shared by the demo collector and its simulations.

A module of its own so that the simulations (numpy, pyarrow) need not import the collector
and the collector need not import them.
"""

from __future__ import annotations

MODEL = "fraud-detector"
