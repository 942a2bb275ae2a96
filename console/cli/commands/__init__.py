"""One module a command group; each has `register(subparsers)` and is found by `console.cli.main`."""
