"""The lines `oncall canary shadow` prints for a report in table format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.core.terminal import escape

if TYPE_CHECKING:
    from console.canary.shadow import ShadowReport


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "undefined"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _ids(ids: list[str], count: int) -> str:
    shown = ", ".join(escape(i) for i in ids)
    return f" ({shown}{', …' if count > len(ids) else ''})" if ids else ""


def report_lines(report: ShadowReport, seen: dict[str, int] | None = None) -> list[str]:
    """Coverage, agreement, score differences, output drift and the performance heading."""
    return [
        *_coverage(report, seen),
        _agreement(report),
        _diffs(report),
        _drift(report),
        _performance(report),
    ]


def _coverage(report: ShadowReport, seen: dict[str, int] | None) -> list[str]:
    c = report.coverage
    champion, shadow = escape(report.champion), escape(report.shadow)
    lines = [
        f"window {report.start:%Y-%m-%d %H:%M:%S}..{report.at:%Y-%m-%d %H:%M:%S}: "
        f"{c.paired} requests scored by both; {c.champion_only} by champion {champion} only"
        f"{_ids(c.champion_only_ids, c.champion_only)}; {c.shadow_only} by shadow {shadow} only"
        f"{_ids(c.shadow_only_ids, c.shadow_only)}"
    ]
    if c.unscored_pairs:
        lines.append(f"  {c.unscored_pairs} of them lack a score on one side: left out below")
    if c.paired == 0 and seen is not None:
        known = ", ".join(f"{escape(v)} ({n} records)" for v, n in seen.items()) or "none"
        lines.append(
            f"  no request was scored by both versions; versions of {escape(report.model)} "
            f"with records in this window: {known}"
        )
    return lines


def _agreement(report: ShadowReport) -> str:
    a = report.agreement
    if a.rate is None:
        return "agreement: no data (no scored pair)"
    return (
        f"agreement: {a.rate:.2%} ({a.agreed} of {a.pairs}) decide the same class at threshold "
        f"{report.threshold:g}; positive by champion alone {a.champion_only_positive}, by shadow "
        f"alone {a.shadow_only_positive}"
    )


def _diffs(report: ShadowReport) -> str:
    d = report.diffs
    if d.count == 0:
        return "score difference (shadow − champion): no data"
    quantiles = ", ".join(f"{name} {_number(value, True)}" for name, value in d.quantiles().items())
    return (
        f"score difference (shadow − champion) over {d.count} pairs: mean {_number(d.mean, True)}, "
        f"std {_number(d.std)}; {quantiles}; max |diff| {_number(d.max_abs)}"
    )


def _drift(report: ShadowReport) -> str:
    drift = report.drift
    if drift.status != "ok":
        return f"output drift: no data ({drift.reference_rows} champion, {drift.current_rows} shadow scores)"
    verdict = "DRIFT" if drift.drifted else "no drift"
    return (
        f"output drift ({drift.method}, {drift.reference_rows} scores a side): score "
        f"{_number(drift.score)} against threshold {_number(drift.threshold)}: {verdict}"
    )


def _performance(report: ShadowReport) -> str:
    p = report.performance
    if p.status == "ok":
        return f"performance on {p.labelled} labelled requests ({p.unlabelled} not labelled yet):"
    detail = f": {escape(p.detail)}" if p.detail else ""
    return f"performance: {p.status} ({p.labelled} labelled, {p.unlabelled} waiting){detail}"
