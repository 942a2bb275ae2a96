"""`oncall slo backtest`'s output: a table per SLO group, JSON (the full series), CSV.

The JSON and CSV carry every grid point of every window (7 days at 1 minute is 10,081
points × 7 windows × 4 numbers per SLO group), so they are built from the numpy arrays
directly and encoded by orjson — no NaN or inf: a missing value is `null` (an empty CSV
cell) with its status saying why.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.config.durations import format_duration
from console.core.output import render_table
from console.core.terminal import escape, escape_text

if TYPE_CHECKING:
    import numpy as np

    from console.slo.backtest import Backtest

SEVERITIES = ("page", "ticket")


def times(count: int) -> str:
    """`once`, `2 times`, `0 times`: how often it would have happened."""
    return "once" if count == 1 else f"{count} times"


def iso(ms: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(milliseconds=int(ms))).isoformat() + "Z"


def _iso_times(grid: np.ndarray) -> list[str]:
    """The grid (epoch ms) as ISO 8601 UTC texts, all at once."""
    import numpy as np

    texts = np.datetime_as_string(grid.astype("datetime64[ms]"), unit="ms" if (grid % 1000).any() else "s")
    return np.char.add(texts, "Z").tolist()


def _intervals(runs: list[tuple[int, int]]) -> list[dict[str, str]]:
    return [{"from": iso(a), "to": iso(b)} for a, b in runs]


def backtest_json(results: list[Backtest], start: datetime, end: datetime, step: timedelta) -> list[dict]:
    """Backtests as data for orjson (numpy arrays of floats inside, NaN encoded as null).

    `pages` and `tickets` are the union intervals of that severity's conditions: each a run
    of grid points where at least one of them held, `from` and `to` its first and last point.
    """
    from console.slo.backtest import Backtest

    out = []
    for bt in results:
        grid = _iso_times(bt.times)
        windows = {}
        for window, ratio in bt.error_ratio.items():
            windows[format_duration(window)] = {
                "sli": 1 - ratio,
                "error_ratio": ratio,
                "burn": ratio / bt.slo.budget,
                "status": _status_texts(bt.status[window], Backtest.STATUS),
            }
        union = {severity: bt.severity_runs(severity) for severity in SEVERITIES}
        out.append(
            {
                "slo": bt.slo.name,
                "group": bt.group,
                "objective": bt.slo.objective,
                "from": start.isoformat() + "Z",
                "to": end.isoformat() + "Z",
                "step_seconds": step.total_seconds(),
                "times": grid,
                "windows": windows,
                "conditions": [
                    {**cond.as_dict(), "intervals": _intervals(bt.intervals(cond.name))}
                    for cond in bt.conditions
                ],
                "pages": _intervals(union["page"]),
                "tickets": _intervals(union["ticket"]),
                "would_page": len(union["page"]),
                "would_ticket": len(union["ticket"]),
            }
        )
    return out


def _status_texts(codes: np.ndarray, names: tuple[str, ...]) -> list[str]:
    import numpy as np

    return np.array(names, dtype=object)[codes].tolist()


def print_json(data: Any, *, indent: bool = False) -> None:
    """`data` as JSON on stdout: compact unless `indent`; control characters as JSON escapes."""
    import orjson

    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    text = orjson.dumps(data, option=option).decode()
    sys.stdout.write(escape_text(text) + "\n")


# -- CSV ----------------------------------------------------------------------------------


def csv_header(results: list[Backtest]) -> list[str]:
    windows = [format_duration(w) for w in (results[0].error_ratio if results else {})]
    return [
        "time",
        "slo",
        "group",
        "page",
        "ticket",
        *(f"{kind}_{w}" for w in windows for kind in ("error_ratio", "burn", "status")),
    ]


def _column(values: np.ndarray) -> list[float | None]:
    """Floats with None (an empty cell) where there is no value."""
    import numpy as np

    cells = values.astype(object)
    cells[~np.isfinite(values)] = None
    return cells.tolist()


def csv_rows(bt: Backtest) -> Iterator[tuple[Any, ...]]:
    """One row per grid point: whether a page or ticket condition held, then each window's
    error ratio, burn and status."""
    from console.slo.backtest import Backtest

    group = escape(",".join(f"{k}={v}" for k, v in sorted(bt.group.items())))
    columns: list[list[Any]] = [_iso_times(bt.times), [bt.slo.name] * len(bt.times), [group] * len(bt.times)]
    for severity in SEVERITIES:
        columns.append(bt.severity_held(severity).astype("int8").tolist())
    for window, ratio in bt.error_ratio.items():
        columns += [
            _column(ratio),
            _column(ratio / bt.slo.budget),
            _status_texts(bt.status[window], Backtest.STATUS),
        ]
    return zip(*columns)


def print_csv(results: list[Backtest]) -> None:
    """Every SLO group's grid as one CSV table (a header, then one row per group and point)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(results))
    for bt in results:
        writer.writerows(csv_rows(bt))
    sys.stdout.write(escape_text(buffer.getvalue()))


# -- the table ----------------------------------------------------------------------------


def group_text(group: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(group.items()))


def print_table(bt: Backtest, start: datetime, end: datetime, step: timedelta) -> None:
    title = bt.slo.name + (f" {{{group_text(bt.group)}}}" if bt.group else "")
    print(
        f"{escape(title)}: objective {bt.slo.objective:g}%, {start:%Y-%m-%d %H:%M} → "
        f"{end:%Y-%m-%d %H:%M} every {format_duration(step)}"
    )
    rows = [_window_row(bt, window, ratio) for window, ratio in bt.error_ratio.items()]
    print(render_table(("window", "points", "max burn", "at", "mean burn"), rows))
    cond_rows = []
    for cond in bt.conditions:
        runs = bt.intervals(cond.name)
        cond_rows.append(
            (
                cond.name,
                f"{cond.factor:g}x",
                len(runs),
                "; ".join(f"{iso(a)} → {iso(b)}" for a, b in runs[:3])
                + (f" … +{len(runs) - 3}" if len(runs) > 3 else ""),
            )
        )
    if cond_rows:
        print(render_table(("condition", "factor", "times", "held"), cond_rows, max_width=120))
    pages, tickets = len(bt.severity_runs("page")), len(bt.severity_runs("ticket"))
    print(f"would have paged {times(pages)}, ticketed {times(tickets)}\n")


def _window_row(bt: Backtest, window: timedelta, ratio: np.ndarray) -> tuple[Any, ...]:
    """A burn window's line: points, the worst burn and when, the mean burn."""
    valid = ~(ratio != ratio)
    if not valid.any():
        reason = "no traffic" if (bt.status[window] == 2).any() else "no data"
        return (format_duration(window), 0, reason, "", "")
    worst = int(ratio[valid].argmax())
    return (
        format_duration(window),
        int(valid.sum()),
        f"{ratio[valid].max() / bt.slo.budget:.2f}x",
        iso(bt.times[valid][worst]),
        f"{(ratio[valid].mean()) / bt.slo.budget:.2f}x",
    )
