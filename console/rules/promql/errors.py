"""What goes wrong with a PromQL expression: at load time (unsupported, bad) or evaluation."""

from __future__ import annotations


class PromQLError(ValueError):
    """An expression we cannot compile: names the construct and, once located, its position."""

    def __init__(self, message: str, construct: str = "", position: int | None = None) -> None:
        self.construct = construct
        self.position = position
        self.reason = message
        super().__init__(message)

    def located(self, text: str) -> PromQLError:
        """This error with the position of its construct in `text` (1-based column)."""
        if self.position is not None or not self.construct:
            return self
        at = text.find(self.construct)
        if at < 0:
            head = self.construct.split("(")[0].split("{")[0].strip()
            at = text.find(head) if head else -1
        return PromQLError(self.reason, self.construct, at + 1 if at >= 0 else None)

    def __str__(self) -> str:
        where = f" at column {self.position}" if self.position is not None else ""
        return f"{self.reason}{where}"


class PromQLEvalError(RuntimeError):
    """An expression that compiled but cannot be answered (e.g. many-to-many matching)."""
