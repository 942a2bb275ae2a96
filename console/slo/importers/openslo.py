"""OpenSLO SLOs as oncall SLOs: v1 (ratio and threshold metrics, inline or by `indicatorRef`) and
v1alpha, the version Sloth reads (`ratioMetrics` per objective, `timeWindows` in days)."""

from __future__ import annotations

from typing import Any

from console.slo.importers.common import Unsupported, listing, mapping, slo_name, string_map
from console.slo.importers.queries import bucket_sli, ratio_sli

_UNITS = {"second": "s", "minute": "m", "hour": "h", "day": "d", "week": "w"}


def _prometheus_query(part: Any, what: str) -> str | None:
    source = mapping(mapping(part, what).get("metricSource"), f"{what}.metricSource")
    if str(source.get("type", "")).lower() != "prometheus":
        return None
    return mapping(source.get("spec"), f"{what}.metricSource.spec").get("query")


def _indicator(spec: dict, slis: dict[str, dict]) -> dict:
    """The SLO's indicator's spec, inline or by reference ({} for none)."""
    indicator = spec.get("indicator")
    if indicator is None and spec.get("indicatorRef"):
        ref = str(spec["indicatorRef"])
        indicator = slis.get(ref)
        if indicator is None:
            raise Unsupported(f"indicatorRef {ref!r} is not in this file")
    return mapping(mapping(indicator, "indicator").get("spec"), "indicator.spec")


def _v1_sli(sli_spec: dict, objective: dict) -> tuple[dict[str, Any], list[str]]:
    """A v1 indicator's ratioMetric, or its thresholdMetric with the objective's op and value."""
    if sli_spec.get("ratioMetric") is not None:
        ratio = mapping(sli_spec["ratioMetric"], "ratioMetric")
        good = _prometheus_query(ratio.get("good"), "ratioMetric.good")
        bad = _prometheus_query(ratio.get("bad"), "ratioMetric.bad")
        total = _prometheus_query(ratio.get("total"), "ratioMetric.total")
        if total is None or (good is None and bad is None):
            raise Unsupported("ratioMetric needs Prometheus good or bad and total queries")
        sli, notes = ratio_sli(good, bad, total)
        if ratio.get("counter") is False:
            notes.append("ratioMetric.counter is false (gauges); read as counters")
        return sli, notes
    if sli_spec.get("thresholdMetric") is not None:
        query = _prometheus_query(sli_spec["thresholdMetric"], "thresholdMetric")
        if query is None:
            raise Unsupported("thresholdMetric needs a Prometheus query")
        if "op" not in objective or "value" not in objective:
            raise Unsupported("thresholdMetric needs the objective's op and value")
        return bucket_sli(query, str(objective["op"]), objective["value"])
    kinds = ", ".join(map(str, sli_spec)) or "none"
    raise Unsupported(f"indicator kind {kinds} (ratioMetric or thresholdMetric convert)")


def _target(objective: dict) -> float:
    """The objective's target in percent."""
    try:
        if "targetPercent" in objective:
            return round(float(objective["targetPercent"]), 10)
        if "target" in objective:
            return round(float(objective["target"]) * 100, 10)
    except (TypeError, ValueError):
        given = objective.get("target", objective.get("targetPercent"))
        raise Unsupported(f"target {given!r} is not a number") from None
    raise Unsupported("the objective has no target")


def _first(spec: dict, key: str) -> dict | None:
    windows = listing(spec.get(key), key)
    return mapping(windows[0], f"{key}[0]") if windows else None


def _calendar(window: dict, where: str, notes: list[str]) -> None:
    if window.get("isRolling") is False or window.get("calendar"):
        notes.append(f"{where}: calendar-aligned time window (oncall windows roll); used a rolling one")


def _window(spec: dict, where: str, notes: list[str]) -> str | None:
    """v1's first `timeWindow` duration."""
    window = _first(spec, "timeWindow")
    if window is None:
        return None
    _calendar(window, where, notes)
    return str(window["duration"]) if window.get("duration") else None


def _alpha_window(spec: dict, where: str, notes: list[str]) -> str | None:
    """v1alpha's first `timeWindows` entry (count and unit) as a duration."""
    window = _first(spec, "timeWindows")
    if window is None:
        return None
    unit = _UNITS.get(str(window.get("unit", "")).lower())
    if unit is None or not str(window.get("count", "")).isdigit():
        raise Unsupported(f"timeWindows {window} (a count of seconds, minutes, hours, days or weeks)")
    _calendar(window, where, notes)
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


def _objectives(
    name: str, where: str, objectives: list, notes: list[str], alpha: bool, convert: Any
) -> list[dict[str, Any]]:
    """One SLO per objective `convert` takes: `NAME-i` for v1alpha (as Sloth) or several."""
    out = []
    for index, objective in enumerate(objectives):
        several = alpha or len(objectives) > 1
        own = f"{name}-{index}" if several else name
        here = f"{where} objectives[{index}] ({own})" if several else where
        try:
            slo, loose = convert(mapping(objective, "objective"))
        except Unsupported as exc:
            notes.append(f"{here}: {exc}; SLO skipped")
            continue
        notes += [f"{here}: {note}" for note in loose]
        out.append({"name": own, **slo})
    return out


def from_openslo(doc: dict, slis: dict[str, dict], where: str, notes: list[str]) -> list[dict[str, Any]]:
    """An OpenSLO v1 SLO: one oncall SLO per objective (`NAME-i` when there are several)."""
    meta = _metadata(doc)
    name = slo_name(str(meta.get("name", "")))
    where = f"{where} ({name})"
    try:
        spec = mapping(doc.get("spec"), "spec")
        sli_spec = _indicator(spec, slis)
        window = _window(spec, where, notes)
        objectives = listing(spec.get("objectives"), "objectives")
        if not objectives:
            raise Unsupported("no objectives")
        common = _common(meta, spec, where, notes)
    except Unsupported as exc:
        notes.append(f"{where}: {exc}; SLO skipped")
        return []

    def convert(objective: dict) -> tuple[dict[str, Any], list[str]]:
        sli, loose = _v1_sli(sli_spec, objective)
        slo = {**common, "objective": _target(objective), "sli": sli}
        return ({**slo, "window": window} if window else slo), loose

    return _objectives(name, where, objectives, notes, False, convert)


def _metadata(doc: dict) -> dict:
    meta = doc.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _alpha_query(part: Any, what: str) -> str | None:
    part = mapping(part, what)
    if str(part.get("source", "")).lower() not in ("prometheus", "sloth"):
        return None
    return part.get("query")


def from_openslo_alpha(doc: dict, where: str, notes: list[str]) -> list[dict[str, Any]]:
    """An OpenSLO v1alpha SLO as Sloth reads it: one SLO per objective, named `NAME-i`."""
    meta = _metadata(doc)
    name = slo_name(str(meta.get("name", "")))
    where = f"{where} ({name})"
    try:
        spec = mapping(doc.get("spec"), "spec")
        window = _alpha_window(spec, where, notes)
        objectives = listing(spec.get("objectives"), "objectives")
        common = _common(meta, spec, where, notes)
    except Unsupported as exc:
        notes.append(f"{where}: {exc}; SLO skipped")
        return []

    def convert(objective: dict) -> tuple[dict[str, Any], list[str]]:
        ratio = mapping(objective.get("ratioMetrics"), "ratioMetrics")
        if not ratio:
            raise Unsupported("only ratioMetrics objectives convert (as in Sloth)")
        good = _alpha_query(ratio.get("good"), "ratioMetrics.good")
        total = _alpha_query(ratio.get("total"), "ratioMetrics.total")
        if good is None or total is None:
            raise Unsupported("ratioMetrics needs prometheus good and total queries")
        sli, loose = ratio_sli(good, None, total)
        slo = {**common, "objective": _target(objective), "sli": sli}
        return ({**slo, "window": window} if window else slo), loose

    return _objectives(name, where, objectives, notes, True, convert)
