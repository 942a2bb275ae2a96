"""Reading the one value of a query that always returns a row (an aggregate, a DML count)."""

from __future__ import annotations

from typing import Any


def scalar(result: Any) -> Any:  # a DuckDB or shared cursor that executed a query
    """The first column of the executed query's first row; LookupError if it returned none."""
    row = result.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row[0]
