"""`oncall drift`'s options as one plan: which test and threshold each column gets, which columns
are left out and why, and the quality limits.

A test or threshold is chosen as Evidently 0.7 chooses it: the column's own (`--method COL=TEST`),
else its kind's (`--num-method`, `--cat-method`), else the global one (`--method TEST`), else the
default for the column's size and values.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError

if TYPE_CHECKING:
    from console.drift.quality import QualityThresholds

NUM, CAT = "num", "cat"
KIND_NAMES = {
    "num": NUM,
    "numeric": NUM,
    "numerical": NUM,
    "cat": CAT,
    "categorical": CAT,
    "text": "text",
    "id": "id",
}
WHY_LEFT_OUT = {
    "id": "id column (--column-type): identifiers are not drift-tested or checked for new values",
    "text": "text column (--column-type): no text drift test; not checked for new values",
    "exclude": "--exclude: not drift-tested or quality-checked",
}
# --max-… options, the QualityThresholds field each sets, and its default there (said in --help
# without importing numpy at start-up; a test holds them equal)
QUALITY_LIMITS = {
    "max_missing_share": ("missing_share", 0.05),
    "max_out_of_range_share": ("out_of_range_share", 0.05),
    "max_new_category_share": ("new_category_share", 0.0),
    "max_type_mismatch_share": ("type_mismatch_share", 0.0),
}
MIN_ROWS_DEFAULT = 1


@dataclass(frozen=True)
class Choice:
    """A value given per column, per kind and for all columns; `pick` applies Evidently's precedence."""

    columns: dict[str, Any] = field(default_factory=dict)
    every: Any = None
    num: Any = None
    cat: Any = None

    def pick(self, column: str, kind: str) -> Any:
        if column in self.columns:
            return self.columns[column]
        by_kind = self.num if kind == NUM else self.cat
        return by_kind if by_kind is not None else self.every

    @property
    def has_global(self) -> bool:
        return any(v is not None for v in (self.every, self.num, self.cat))


@dataclass(frozen=True)
class Plan:
    """Everything the options ask of one run."""

    kinds: dict[str, str]  # given num/cat kinds
    left_out: dict[str, str]  # column -> "id", "text" or "exclude": why it is not tested (WHY_LEFT_OUT)
    methods: Choice
    thresholds: Choice
    quality_limits: dict[str, float]  # QualityThresholds fields given on the command line

    def quality_thresholds(self, **defaults: Any) -> QualityThresholds:
        from console.drift.quality import QualityThresholds

        return QualityThresholds(**{**defaults, **self.quality_limits})


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose tests, thresholds, column roles and quality limits."""
    _test_options(parser)
    parser.add_argument(
        "--column-type",
        action="append",
        default=[],
        metavar="COL=num|cat|text|id",
        help="a column's type (default: inferred as Evidently does); text and id columns are "
        "left out of drift and quality checks, and the output says so",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COL",
        help="leave this column out of drift and quality checks (repeat for more)",
    )
    _quality_options(parser)


def _test_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--method",
        action="append",
        default=[],
        metavar="TEST|COL=TEST",
        help="the test for every column (TEST) or one column (COL=TEST): " + ", ".join(_test_names()),
    )
    parser.add_argument("--num-method", metavar="TEST", help="the test for numeric columns")
    parser.add_argument("--cat-method", metavar="TEST", help="the test for categorical columns")
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="X|COL=X",
        help="the drift threshold for every column (X) or one column (COL=X); default: the test's. "
        "Each test compares its own way (above; the table says which)",
    )
    parser.add_argument("--num-threshold", metavar="X", help="the drift threshold for numeric columns")
    parser.add_argument("--cat-threshold", metavar="X", help="the drift threshold for categorical columns")


def _quality_options(parser: argparse.ArgumentParser) -> None:
    for option, (name, default) in QUALITY_LIMITS.items():
        flag = "--" + option.replace("_", "-")
        words = name.replace("_share", "").replace("_", " ")
        parser.add_argument(
            flag,
            metavar="X",
            help=f"a quality problem when a column's share of {words} values in the current "
            f"data is above X (default {default:g})",
        )
    parser.add_argument(
        "--min-rows",
        metavar="N",
        help=f"a quality problem when the current data has fewer rows (default {MIN_ROWS_DEFAULT})",
    )


def _test_names() -> list[str]:
    from console.drift.catalogue import TESTS

    return list(TESTS)


def build_plan(args: argparse.Namespace) -> Plan:
    """The options as a plan; a one-line CliError (exit 2) for a value that cannot be used."""
    kinds, left_out = _roles(args.column_type, args.exclude)
    methods = _methods(args)
    thresholds = Choice(
        *split_values(args.threshold, "--threshold", _number),
        num=_optional(args.num_threshold, "--num-threshold", _number),
        cat=_optional(args.cat_threshold, "--cat-threshold", _number),
    )
    return Plan(kinds, left_out, methods, thresholds, _quality_limits(args))


def _quality_limits(args: argparse.Namespace) -> dict[str, Any]:
    """The --max-… shares and --min-rows given, by QualityThresholds field."""
    limits: dict[str, Any] = {}
    for option, (name, _default) in QUALITY_LIMITS.items():
        value = _optional(getattr(args, option), "--" + option.replace("_", "-"), _share)
        if value is not None:
            limits[name] = value
    if args.min_rows is not None:
        if not args.min_rows.isdigit():
            raise CliError(f"--min-rows {args.min_rows!r}: expected a whole number of rows (0 or more)")
        limits["min_rows"] = int(args.min_rows)
    return limits


def _optional(text: str | None, flag: str, convert: Callable[[str, str], Any]) -> Any:
    return None if text is None else convert(text, f"{flag} {text!r}")


def _share(text: str, where: str) -> float:
    value = _number(text, where)
    if not 0 <= value <= 1:
        raise CliError(f"{where}: not a share in [0, 1]")
    return value


def split_values(items: list[str], flag: str, convert: Callable[[str, str], Any]) -> tuple[dict, Any]:
    """COLUMN=VALUE items as a dict, and the one bare VALUE (for every column) or None."""
    per_column: dict[str, Any] = {}
    bare: list[Any] = []
    for item in items:
        name, sep, value = item.rpartition("=")
        if sep and not (name and value):
            raise CliError(f"{flag} {item!r}: expected VALUE (every column) or COLUMN=VALUE")
        if sep:
            per_column[name] = convert(value, f"{flag} {item!r}")
        else:
            bare.append(convert(item, f"{flag} {item!r}"))
    if len(bare) > 1:
        raise CliError(f"{flag} is given {len(bare)} times for every column; give it once, or COLUMN=VALUE")
    return per_column, (bare[0] if bare else None)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise CliError(f"{where}: give a finite number")
    return value


def _test(text: str, where: str) -> str:
    from console.drift.catalogue import DriftError, resolve_test

    try:
        return resolve_test(text).name
    except DriftError as exc:
        raise CliError(f"{where}: {exc}") from None


def _kind_test(text: str | None, flag: str, kind: str) -> str | None:
    from console.drift.catalogue import resolve_test

    if text is None:
        return None
    name = _test(text, f"{flag} {text!r}")
    if kind not in resolve_test(name).kinds:
        words = "numeric" if kind == NUM else "categorical"
        raise CliError(f"{flag} {text!r}: test {name!r} does not apply to {words} columns")
    return name


def _methods(args: argparse.Namespace) -> Choice:
    per_column, every = split_values(args.method, "--method", _test)
    return Choice(
        per_column,
        every,
        num=_kind_test(args.num_method, "--num-method", NUM),
        cat=_kind_test(args.cat_method, "--cat-method", CAT),
    )


def _roles(types: list[str], excluded: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """--column-type and --exclude: the given num/cat kinds, and the columns left out with why."""
    kinds: dict[str, str] = {}
    left_out: dict[str, str] = {}
    given, bare = split_values(types, "--column-type", _kind_name)
    if bare:
        raise CliError(f"--column-type {bare!r}: expected COLUMN=num|cat|text|id")
    for column, kind in given.items():
        if kind in (NUM, CAT):
            kinds[column] = kind
        else:
            left_out[column] = kind
    for column in excluded:
        left_out[column] = "exclude"
    return kinds, left_out


def _kind_name(text: str, where: str) -> str:
    if text.lower() not in KIND_NAMES:
        raise CliError(f"--column-type: {text!r} is not num, cat, text or id")
    return KIND_NAMES[text.lower()]


def resolved(
    plan: Plan, reference: Any, current: Any, columns: list[str]
) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """Each tested column's kind, and its test and threshold where the plan chooses one."""
    from console.drift.stats import _infer_pair

    kinds: dict[str, str] = {}
    methods: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    for column in columns:
        kind = plan.kinds.get(column) or _infer_pair(reference[column], current[column])
        kinds[column] = kind
        method, threshold = plan.methods.pick(column, kind), plan.thresholds.pick(column, kind)
        if method is not None:
            _fits(column, kind, method, plan.methods)
            methods[column] = method
        if threshold is not None:
            thresholds[column] = threshold
    return kinds, methods, thresholds


def _fits(column: str, kind: str, method: str, methods: Choice) -> None:
    """A global --method that does not apply to a column's kind is refused, as Evidently refuses it."""
    from console.drift.catalogue import resolve_test

    if column in methods.columns or kind in resolve_test(method).kinds:
        return
    words, flag = ("categorical", "--num-method") if kind == CAT else ("numeric", "--cat-method")
    raise CliError(
        f"--method {method}: test {method!r} does not apply to {words} column {column!r}; "
        f"use {flag} {method} to test only {'numeric' if kind == CAT else 'categorical'} columns, "
        f"or --exclude {column}"
    )


def refuse_unknown(plan: Plan, shared: list[str], either: set[str]) -> None:
    """A column option naming a column the files do not have is a mistake, said with the columns there are."""
    named = {
        "--column-type": [*plan.kinds, *(c for c, role in plan.left_out.items() if role != "exclude")],
        "--method": list(plan.methods.columns),
        "--threshold": list(plan.thresholds.columns),
    }
    for flag, columns in named.items():
        unknown = sorted(c for c in columns if c not in shared)
        if unknown:
            raise CliError(
                f"{flag} names {', '.join(map(repr, unknown))}, which is not a column of both files; "
                f"columns: {', '.join(shared)}"
            )
    excluded = sorted(c for c, role in plan.left_out.items() if role == "exclude" and c not in either)
    if excluded:
        raise CliError(f"--exclude names {', '.join(map(repr, excluded))}, which is in neither file")
