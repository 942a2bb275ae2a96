"""The engine's news: what each step (collectors, rules, incidents, config) reports to the console.

It lives below the engine so that a step such as the incident loop can report without
importing the engine that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Event:
    """Something a person watching would want to hear about."""

    ts: datetime
    kind: str  # collector, alert, serving
    text: str
    detail: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.kind:<9} {self.text}"
