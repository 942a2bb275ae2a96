"""`python -m console` is `oncall`."""

from console.cli import entry

entry()
