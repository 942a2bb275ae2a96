"""One module a command group; each has `register(subparsers)` and is found by `console.cli.main`.

Commands take what they share from `console.cli.context`, never from `main`.
"""
