"""`python -m console` is `oncall`."""

from console.cli.main import entry

entry()
