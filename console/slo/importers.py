"""Sloth `prometheus/v1` (and its Kubernetes CRD) and OpenSLO v1 ratio SLOs into oncall's format."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from console.config.problems import validation_problems
from console.config.yamlmarks import MarkedDict, Problem, load_marked_all, plain
from console.store.selectors import SelectorError, parse_selector

# `sum [by (...)] ( rate|increase ( SELECTOR [RANGE] ) ) [by (...)]`, or a bare selector.
_SUM = re.compile(r"^\s*sum\s*(?:by\s*\(([^)]*)\))?\s*\((.*)\)\s*(?:by\s*\(([^)]*)\))?\s*$", re.S)
_RATE = re.compile(r"^\s*(?:rate|increase)\s*\((.*)\[[^\]]*\]\s*\)\s*$", re.S)
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.:-]+")


class SLOImportError(Exception):
    """A file that is not a Sloth or OpenSLO document at all."""


def _outer_sum(text: str) -> tuple[str, list[str]]:
    """`sum [by (...)] (inner) [by (...)]` into (inner, by labels); other text as it is."""
    match = _SUM.match(text)
    if not match:
        return text, []
    return match[2].strip(), [p.strip() for p in (match[1] or match[3] or "").split(",") if p.strip()]


def counter_query(query: str) -> tuple[str, list[str]]:
    """A PromQL counter query into (selector, by labels); ValueError if it is not that shape."""
    text, by = _outer_sum(str(query).strip())
    rate = _RATE.match(text)
    if rate:
        text = rate[1].strip()
    elif "(" in text or "[" in text:
        raise ValueError(f"only sum(rate(selector[w])) or a plain selector converts, not {query!r}")
    try:
        selector = parse_selector(text)
    except SelectorError as exc:
        raise ValueError(f"{query!r}: {exc}") from None
    return str(selector), by


def _name(*parts: str) -> str:
    joined = "-".join(p for p in parts if p)
    return _NAME_BAD.sub("-", joined).strip("-._:") or "slo"


def _ratio(
    good: str | None, bad: str | None, total: str, where: str, notes: list[str]
) -> dict[str, Any] | None:
    try:
        total_sel, total_by = counter_query(total)
        chosen = good if good is not None else bad
        sel, by = counter_query(chosen or "")
    except ValueError as exc:
        notes.append(f"{where}: {exc}; SLO skipped")
        return None
    ratio: dict[str, Any] = {"good" if good is not None else "bad": sel, "total": total_sel}
    if by or total_by:
        if sorted(by) != sorted(total_by):
            notes.append(f"{where}: numerator and total group by different labels; SLO skipped")
            return None
        ratio["by"] = sorted(by)
    return ratio


def _sloth_slo(
    service: str, labels: dict, slo: dict, where: str, notes: list[str], camel: bool
) -> dict[str, Any] | None:
    def key(snake: str, cam: str) -> str:
        return cam if camel else snake

    out: dict[str, Any] = {
        "name": _name(service, str(slo.get("name", ""))),
        "service": service,
        "objective": slo.get("objective"),
    }
    if labels or slo.get("labels"):
        out["labels"] = {**labels, **(slo.get("labels") or {})}
    if slo.get("description"):
        out["description"] = slo["description"]
    ratio = _sloth_ratio(slo.get("sli") or {}, where, notes, key)
    if ratio is None:
        return None
    out["sli"] = {"ratio": ratio}
    alerting = _sloth_alerting(slo.get("alerting") or {}, where, notes, key)
    if alerting:
        out["alerting"] = alerting
    for extra in sorted(set(slo) - {"name", "objective", "description", "sli", "alerting", "labels"}):
        notes.append(f"{where}: key {extra!r}")
    return out


def _sloth_ratio(sli: dict, where: str, notes: list[str], key: Any) -> dict[str, Any] | None:
    """Sloth's `events` SLI (error and total queries) as an oncall ratio; other kinds are noted."""
    events = sli.get("events")
    if events is None:
        kinds = ", ".join(k for k in sli if k != "events") or "none"
        notes.append(f"{where}: SLI kind {kinds} (only `events` error/total queries convert); SLO skipped")
        return None
    error, total = (
        events.get(key("error_query", "errorQuery")),
        events.get(key("total_query", "totalQuery"), ""),
    )
    return _ratio(None, error, total, where, notes)


def _string_maps(spec: dict) -> dict[str, dict[str, str]]:
    """A spec's `labels` and `annotations` (those given), values as strings."""
    return {f: {k: str(v) for k, v in spec[f].items()} for f in ("labels", "annotations") if spec.get(f)}


def _sloth_alerting(alerting: dict, where: str, notes: list[str], key: Any) -> dict[str, Any]:
    """Sloth's `alerting` as oncall's: labels and annotations, per severity and for both."""
    if alerting.get("name"):
        notes.append(
            f"{where}: alerting.name {alerting['name']!r} (oncall names conditions <slo>:<severity>:<window>)"
        )
    converted: dict[str, Any] = _string_maps(alerting)
    for theirs, ours in (
        (key("page_alert", "pageAlert"), "page"),
        (key("ticket_alert", "ticketAlert"), "ticket"),
    ):
        alert = alerting.get(theirs) or {}
        setting: dict[str, Any] = {"enabled": False} if alert.get("disable") else {}
        setting.update(_string_maps(alert))
        if setting:
            converted[ours] = setting
    return converted


def _from_sloth(doc: dict, where: str, notes: list[str], camel: bool) -> list[dict[str, Any]]:
    spec = doc.get("spec", doc) if camel else doc
    service = str(spec.get("service", ""))
    labels = {k: str(v) for k, v in (spec.get("labels") or {}).items()}
    out = []
    for index, slo in enumerate(spec.get("slos") or []):
        converted = _sloth_slo(
            service, labels, slo, f"{where} slos[{index}] ({slo.get('name', '?')})", notes, camel
        )
        if converted is not None:
            out.append(converted)
    return out


def _prometheus_query(part: dict | None) -> str | None:
    source = (part or {}).get("metricSource") or {}
    if str(source.get("type", "")).lower() != "prometheus":
        return None
    return (source.get("spec") or {}).get("query")


def _indicator(spec: dict, slis: dict[str, dict], where: str, notes: list[str]) -> dict | None:
    """The SLO's indicator, inline or by reference ({} for none); None if the reference is missing."""
    indicator = spec.get("indicator")
    if indicator is None and spec.get("indicatorRef"):
        indicator = slis.get(spec["indicatorRef"])
        if indicator is None:
            notes.append(f"{where}: indicatorRef {spec['indicatorRef']!r} is not in this file; SLO skipped")
            return None
    return indicator or {}


def _openslo_ratio(doc: dict, slis: dict[str, dict], where: str, notes: list[str]) -> dict[str, Any] | None:
    """The SLO's ratioMetric indicator (inline or by reference) as an oncall ratio SLI."""
    indicator = _indicator(doc.get("spec") or {}, slis, where, notes)
    if indicator is None:
        return None
    sli_spec = indicator.get("spec") or {}
    ratio_metric = sli_spec.get("ratioMetric")
    if ratio_metric is None:
        notes.append(
            f"{where}: only ratioMetric indicators convert (got {', '.join(sli_spec) or 'none'}); SLO skipped"
        )
        return None
    good, bad = _prometheus_query(ratio_metric.get("good")), _prometheus_query(ratio_metric.get("bad"))
    total = _prometheus_query(ratio_metric.get("total"))
    if total is None or (good is None and bad is None):
        notes.append(f"{where}: ratioMetric needs Prometheus good or bad and total queries; SLO skipped")
        return None
    if ratio_metric.get("counter") is False:
        notes.append(f"{where}: ratioMetric.counter is false (gauges); treated as counters")
    return _ratio(good, None if good is not None else bad, total, where, notes)


def _openslo_objective(objectives: list[dict], where: str, notes: list[str]) -> float | None:
    """The first objective's target in percent; the others, and threshold parts, noted."""
    if not objectives:
        notes.append(f"{where}: no objectives; SLO skipped")
        return None
    first = objectives[0]
    if "targetPercent" in first:
        objective = float(first["targetPercent"])
    elif "target" in first:
        objective = float(first["target"]) * 100
    else:
        notes.append(f"{where}: objectives[0] has no target; SLO skipped")
        return None
    for extra in objectives[1:]:
        notes.append(
            f"{where}: objective {extra.get('displayName') or extra} (one objective per "
            "SLO; define another SLO for it)"
        )
    for key in ("op", "value"):
        if key in first:
            notes.append(f"{where}: objectives[0].{key} (threshold objectives do not convert)")
    return objective


def _openslo_window(spec: dict, where: str, notes: list[str]) -> str | None:
    """The first time window's duration (rolling: a calendar window is noted)."""
    windows = spec.get("timeWindow") or []
    if not windows:
        return None
    window = windows[0]
    if window.get("isRolling") is False or window.get("calendar"):
        notes.append(
            f"{where}: calendar-aligned time window (oncall windows roll); used a rolling {window.get('duration')}"
        )
    return str(window["duration"]) if window.get("duration") else None


def _openslo_labels(labels: dict[str, Any]) -> dict[str, str]:
    """OpenSLO labels (a value may be a list) as oncall's string labels."""
    return {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in labels.items()}


def _note_unsupported(spec: dict, where: str, notes: list[str]) -> None:
    if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
        notes.append(f"{where}: budgetingMethod {spec['budgetingMethod']} (oncall counts occurrences)")
    if spec.get("alertPolicies"):
        notes.append(f"{where}: alertPolicies (oncall uses multiwindow burn-rate alerts)")


def _openslo_slo(doc: dict, slis: dict[str, dict], where: str, notes: list[str]) -> dict[str, Any] | None:
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    name = _name(str(meta.get("name", "")))
    where = f"{where} ({name})"
    ratio = _openslo_ratio(doc, slis, where, notes)
    if ratio is None:
        return None
    objective = _openslo_objective(spec.get("objectives") or [], where, notes)
    if objective is None:
        return None
    out: dict[str, Any] = {
        "name": name,
        "service": str(spec.get("service", "")),
        "objective": round(objective, 10),
    }
    if meta.get("labels"):
        out["labels"] = _openslo_labels(meta["labels"])
    if spec.get("description"):
        out["description"] = spec["description"]
    window = _openslo_window(spec, where, notes)
    if window is not None:
        out["window"] = window
    _note_unsupported(spec, where, notes)
    out["sli"] = {"ratio": ratio}
    return out


def _convert(doc: Any, slis: dict[str, dict], where: str, notes: list[str]) -> list[dict[str, Any]]:
    """One document's SLOs (Sloth's or OpenSLO's); anything else is noted."""
    if not isinstance(doc, dict):
        notes.append(f"{where}: not a mapping")
        return []
    version, api, kind = doc.get("version"), str(doc.get("apiVersion", "")), doc.get("kind")
    if version == "prometheus/v1":
        return _from_sloth(doc, where, notes, camel=False)
    if api.startswith("sloth.slok.dev/") and kind == "PrometheusServiceLevel":
        return _from_sloth(doc, where, notes, camel=True)
    if api == "openslo/v1" and kind == "SLO":
        converted = _openslo_slo(doc, slis, where, notes)
        return [] if converted is None else [converted]
    if api == "openslo/v1" and kind == "SLI":
        return []
    if api.startswith("openslo/"):
        notes.append(f"{where}: {api} {kind} (only openslo/v1 SLO and SLI convert)")
    else:
        notes.append(f"{where}: neither Sloth prometheus/v1 nor OpenSLO v1")
    return []


def convert_documents(docs: list[Any], origin: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Sloth or OpenSLO documents into oncall SLO mappings, and notes on what was dropped."""
    notes: list[str] = []
    slis = {
        str((d.get("metadata") or {}).get("name")): d
        for d in docs
        if isinstance(d, dict) and d.get("kind") == "SLI"
    }
    slos: list[dict[str, Any]] = []
    for index, doc in enumerate(docs):
        slos += _convert(doc, slis, f"{origin} document {index + 1}", notes)
    return _validated(slos, origin, notes), notes


def _validated(slos: list[dict[str, Any]], origin: str, notes: list[str]) -> list[dict[str, Any]]:
    from console.slo.model import SLO

    kept = []
    for slo in slos:
        try:
            SLO.model_validate(slo)
        except ValidationError as exc:
            # The shared translator's words; the converted SLO is no YAML, so no line to name.
            message = validation_problems(exc, MarkedDict(), origin, SLO)[0].message
            where = ".".join(map(str, exc.errors()[0]["loc"]))
            notes.append(f"{origin} {slo.get('name')}: {where}: {message}; SLO skipped")
            continue
        kept.append(slo)
    return kept


def convert_file(path: Path) -> tuple[str, list[str]]:
    """A Sloth or OpenSLO file as the text of an oncall SLO file, and what was not carried over."""
    try:
        docs = [plain(d) for d in load_marked_all(path) if d is not None]
    except Problem as problem:
        raise SLOImportError(str(problem)) from None
    if not docs:
        raise SLOImportError(f"{path}: empty file; expected a Sloth or OpenSLO document")
    slos, notes = convert_documents(docs, str(path))
    if not slos:
        detail = "; ".join(notes[:3]) or "nothing to convert"
        raise SLOImportError(f"{path}: no SLO could be converted ({detail})")
    header = f"# converted from {path.name} by `oncall slo import`\n"
    return header + yaml.safe_dump({"slos": slos}, sort_keys=False, allow_unicode=True), notes
