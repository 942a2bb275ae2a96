"""OpenSLO SLOs as oncall SLOs: v1 (ratio and threshold metrics, inline or by `indicatorRef`) and
v1alpha, the version Sloth reads (`ratioMetrics` per objective, `timeWindows` in days)."""

from __future__ import annotations

from typing import Any

from console.slo.importers.common import slo_name, string_map
from console.slo.importers.queries import Unsupported, bucket_sli, ratio_sli


def _prometheus_query(part: dict | None) -> str | None:
    source = (part or {}).get("metricSource") or {}
    if str(source.get("type", "")).lower() != "prometheus":
        return None
    return (source.get("spec") or {}).get("query")


def _indicator(spec: dict, slis: dict[str, dict]) -> dict:
    """The SLO's indicator, inline or by reference ({} for none)."""
    indicator = spec.get("indicator")
    if indicator is None and spec.get("indicatorRef"):
        indicator = slis.get(spec["indicatorRef"])
        if indicator is None:
            raise Unsupported(f"indicatorRef {spec['indicatorRef']!r} is not in this file")
    return indicator or {}


def _v1_sli(sli_spec: dict, objective: dict) -> tuple[dict[str, Any], list[str]]:
    """A v1 indicator's ratioMetric, or its thresholdMetric with the objective's op and value."""
    ratio = sli_spec.get("ratioMetric")
    if ratio is not None:
        good, bad = _prometheus_query(ratio.get("good")), _prometheus_query(ratio.get("bad"))
        total = _prometheus_query(ratio.get("total"))
        if total is None or (good is None and bad is None):
            raise Unsupported("ratioMetric needs Prometheus good or bad and total queries")
        sli, notes = ratio_sli(good, bad, total)
        if ratio.get("counter") is False:
            notes.append("ratioMetric.counter is false (gauges); read as counters")
        return sli, notes
    threshold = sli_spec.get("thresholdMetric")
    if threshold is not None:
        query = _prometheus_query(threshold)
        if query is None:
            raise Unsupported("thresholdMetric needs a Prometheus query")
        if "op" not in objective or "value" not in objective:
            raise Unsupported("thresholdMetric needs the objective's op and value")
        return bucket_sli(query, str(objective["op"]), objective["value"])
    raise Unsupported(
        f"indicator kind {', '.join(sli_spec) or 'none'} (ratioMetric or thresholdMetric convert)"
    )


def _target(objective: dict) -> float:
    """The objective's target in percent."""
    if "targetPercent" in objective:
        return float(objective["targetPercent"])
    if "target" in objective:
        return float(objective["target"]) * 100
    raise Unsupported("the objective has no target")


def _window(spec: dict, where: str, notes: list[str]) -> str | None:
    """v1's first `timeWindow` duration (a calendar window is noted: oncall's windows roll)."""
    windows = spec.get("timeWindow") or []
    if not windows:
        return None
    window = windows[0]
    if window.get("isRolling") is False or window.get("calendar"):
        notes.append(
            f"{where}: calendar-aligned time window (oncall windows roll); used a rolling {window.get('duration')}"
        )
    return str(window["duration"]) if window.get("duration") else None


def _alpha_window(spec: dict, where: str, notes: list[str]) -> str | None:
    """v1alpha's first `timeWindows` entry (count and unit) as a duration."""
    windows = spec.get("timeWindows") or []
    if not windows:
        return None
    window = windows[0]
    units = {"second": "s", "minute": "m", "hour": "h", "day": "d", "week": "w"}
    unit = units.get(str(window.get("unit", "")).lower())
    if unit is None or not str(window.get("count", "")).isdigit():
        raise Unsupported(f"timeWindows {window} (a count of seconds, minutes, hours, days or weeks)")
    if window.get("isRolling") is False or window.get("calendar"):
        notes.append(f"{where}: calendar-aligned time window (oncall windows roll); used a rolling one")
    return f"{window['count']}{unit}"


def _common(meta: dict, spec: dict, where: str, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"service": str(spec.get("service", ""))}
    if meta.get("labels"):
        out["labels"] = string_map(meta["labels"])
    if spec.get("description"):
        out["description"] = str(spec["description"])
    if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
        notes.append(f"{where}: budgetingMethod {spec['budgetingMethod']} (oncall counts occurrences)")
    if spec.get("alertPolicies"):
        notes.append(f"{where}: alertPolicies (oncall uses multiwindow burn-rate alerts)")
    return out


def from_openslo(doc: dict, slis: dict[str, dict], where: str, notes: list[str]) -> list[dict[str, Any]]:
    """An OpenSLO v1 SLO: one oncall SLO per objective (`NAME-i` when there are several)."""
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    name = slo_name(str(meta.get("name", "")))
    where = f"{where} ({name})"
    try:
        sli_spec = _indicator(spec, slis).get("spec") or {}
        window = _window(spec, where, notes)
        objectives = spec.get("objectives") or []
        if not objectives:
            raise Unsupported("no objectives")
    except Unsupported as exc:
        notes.append(f"{where}: {exc}; SLO skipped")
        return []
    common = _common(meta, spec, where, notes)
    out = []
    for index, objective in enumerate(objectives):
        own = name if len(objectives) == 1 else f"{name}-{index}"
        here = where if len(objectives) == 1 else f"{where} objectives[{index}] ({own})"
        try:
            sli, loose = _v1_sli(sli_spec, objective)
            slo = {"name": own, **common, "objective": round(_target(objective), 10), "sli": sli}
        except Unsupported as exc:
            notes.append(f"{here}: {exc}; SLO skipped")
            continue
        notes += [f"{here}: {note}" for note in loose]
        if window is not None:
            slo["window"] = window
        out.append(slo)
    return out


def _alpha_query(part: dict | None) -> str | None:
    part = part or {}
    if str(part.get("source", "")).lower() not in ("prometheus", "sloth"):
        return None
    return part.get("query")


def from_openslo_alpha(doc: dict, where: str, notes: list[str]) -> list[dict[str, Any]]:
    """An OpenSLO v1alpha SLO as Sloth reads it: one SLO per objective, named `NAME-i`."""
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    name = slo_name(str(meta.get("name", "")))
    where = f"{where} ({name})"
    try:
        window = _alpha_window(spec, where, notes)
    except Unsupported as exc:
        notes.append(f"{where}: {exc}; SLO skipped")
        return []
    common = _common(meta, spec, where, notes)
    out = []
    for index, objective in enumerate(spec.get("objectives") or []):
        own = f"{name}-{index}"
        here = f"{where} objectives[{index}] ({own})"
        try:
            ratio = objective.get("ratioMetrics")
            if not ratio:
                raise Unsupported("only ratioMetrics objectives convert (as in Sloth)")
            good, total = _alpha_query(ratio.get("good")), _alpha_query(ratio.get("total"))
            if good is None or total is None:
                raise Unsupported("ratioMetrics needs prometheus good and total queries")
            sli, loose = ratio_sli(good, None, total)
            slo = {"name": own, **common, "objective": round(_target(objective), 10), "sli": sli}
        except Unsupported as exc:
            notes.append(f"{here}: {exc}; SLO skipped")
            continue
        notes += [f"{here}: {note}" for note in loose]
        if window is not None:
            slo["window"] = window
        out.append(slo)
    return out
