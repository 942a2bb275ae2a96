"""Go's built-in template functions with their own argument rules: comparisons, len, index, not.

Go compares only operands of one basic kind (`gt $value 1` is "incompatible types for
comparison": 1 is an int), as these do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.rules.gotemplate_fmt import AnyMap, FuncError, type_name


def truth(value: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, maps and lists are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float)):
        return value != 0
    if isinstance(value, (str, dict, list)):
        return len(value) > 0
    return True


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise FuncError("invalid type for comparison")


def _eq(values: list[Any]) -> bool:
    if len(values) < 2:
        raise FuncError("missing argument for comparison")
    first = values[0]
    for other in values[1:]:
        if first is None or other is None:
            if first is other:
                return True
            continue
        if _kind(first) != _kind(other):
            raise FuncError("incompatible types for comparison")
        if first == other:
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[list[Any]], bool]:
    def compare(values: list[Any]) -> bool:
        if len(values) != 2:
            raise FuncError(f"wrong number of args: want 2 got {len(values)}")
        a, b = values
        if a is None or b is None or _kind(a) == "bool" or _kind(b) == "bool":
            raise FuncError("invalid type for comparison")
        if _kind(a) != _kind(b):
            raise FuncError("incompatible types for comparison")
        return op(a, b)

    return compare


def _len(values: list[Any]) -> int:
    if len(values) != 1:
        raise FuncError(f"wrong number of args for len: want 1 got {len(values)}")
    (value,) = values
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, (dict, list)):
        return len(value)
    raise FuncError(f"len of type {type_name(value)}")


def _index(values: list[Any]) -> Any:
    if not values:
        raise FuncError("wrong number of args for index: want at least 1 got 0")
    item = values[0]
    for key in values[1:]:
        if isinstance(item, dict):
            if not isinstance(key, str):
                raise FuncError(f"value has type {type_name(key)}; should be string")
            item = item.get(key) if isinstance(item, AnyMap) else item.get(key, "")
        elif isinstance(item, (list, str)) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(item):
                raise FuncError(f"index out of range: {key}")
            item = item[key] if isinstance(item, list) else item.encode()[key]
        elif item is None:
            raise FuncError("index of untyped nil")
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def _not(values: list[Any]) -> bool:
    if len(values) != 1:
        raise FuncError(f"wrong number of args for not: want 1 got {len(values)}")
    return not truth(values[0])


def _wrong(name: str, values: list[Any]) -> bool:
    raise FuncError(f"wrong number of args for {name}: want 2 got {len(values)}")


SPECIAL: dict[str, Callable[[list[Any]], Any]] = {
    "eq": _eq,
    # as Go: le is lt or eq, gt is not le, ge is not lt (so NaN is gt and ge everything)
    "ne": lambda v: not _eq(v) if len(v) == 2 else _wrong("ne", v),
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a < b or a == b),
    "gt": _ordered(lambda a, b: not (a < b or a == b)),
    "ge": _ordered(lambda a, b: not a < b),
    "len": _len,
    "index": _index,
    "not": _not,
}
