"""Sloth `prometheus/v1` specs and its `PrometheusServiceLevel` CRD (camelCase keys) as oncall SLOs."""

from __future__ import annotations

from typing import Any

from console.slo.importers.common import Unsupported, listing, mapping, slo_name, string_map, string_maps
from console.slo.importers.queries import events_sli, raw_sli

_RESERVED_AS = {"severity": "{severity}", "slo": "the SLO's name", "window": "the alert's windows"}
_RESERVED = set(_RESERVED_AS)
_SLO_KEYS = {"name", "objective", "description", "sli", "alerting", "labels"}


def from_sloth(doc: dict, where: str, notes: list[str], camel: bool) -> list[dict[str, Any]]:
    """A Sloth document's SLOs; each one that cannot convert is named in `notes` with why."""
    spec = doc.get("spec", doc) if camel else doc
    if not isinstance(spec, dict):
        notes.append(f"{where}: spec is not a mapping")
        return []
    plugins = "sloPlugins" if camel else "slo_plugins"
    if spec.get(plugins):
        notes.append(f"{where}: {plugins} (Sloth's Go plugins change generated rules; oncall runs none)")
    service = str(spec.get("service", ""))
    try:
        labels = string_map(spec.get("labels"))
        slos = listing(spec.get("slos"), "slos")
    except Unsupported as exc:
        notes.append(f"{where}: {exc}")
        return []
    out = []
    for index, slo in enumerate(slos):
        if not isinstance(slo, dict):
            notes.append(f"{where} slos[{index}]: not a mapping; SLO skipped")
            continue
        here = f"{where} slos[{index}] ({slo.get('name', '?')})"
        try:
            out.append(_slo(service, labels, slo, here, notes, camel))
        except Unsupported as exc:
            notes.append(f"{here}: {exc}; SLO skipped")
    return out


def _slo(
    service: str, labels: dict[str, str], slo: dict, where: str, notes: list[str], camel: bool
) -> dict[str, Any]:
    def key(snake: str, cam: str) -> str:
        return cam if camel else snake

    sli, loose = _sli(mapping(slo.get("sli"), "sli"), key)
    notes += [f"{where}: {note}" for note in loose]
    out: dict[str, Any] = {
        "name": slo_name(service, str(slo.get("name", ""))),
        "service": service,
        "objective": slo.get("objective"),
    }
    own = string_map(slo.get("labels"))
    if labels or own:
        out["labels"] = {**labels, **own}
    if slo.get("description"):
        out["description"] = str(slo["description"])
    out["sli"] = sli
    alerting = _alerting(mapping(slo.get("alerting"), "alerting"), key, where, notes)
    if alerting:
        out["alerting"] = alerting
    for extra in sorted(set(slo) - _SLO_KEYS):
        notes.append(f"{where}: key {extra!r} (no oncall equivalent)")
    return out


def _sli(sli: dict, key: Any) -> tuple[dict[str, Any], list[str]]:
    """Sloth's `events` (error and total queries) or `raw` (an error ratio) SLI as oncall's."""
    if "events" in sli:
        events = mapping(sli["events"], "sli.events")
        return events_sli(
            events.get(key("error_query", "errorQuery")), events.get(key("total_query", "totalQuery"))
        )
    if "raw" in sli:
        return raw_sli(mapping(sli["raw"], "sli.raw").get(key("error_ratio_query", "errorRatioQuery")))
    if "plugin" in sli:
        plugin = mapping(sli["plugin"], "sli.plugin").get("id", "?")
        raise Unsupported(f"SLI plugin {plugin!r} (Go code Sloth runs; its queries are not in the spec)")
    raise Unsupported(f"SLI kind {', '.join(map(str, sli)) or 'none'} (events or raw convert)")


def _alerting(alerting: dict, key: Any, where: str, notes: list[str]) -> dict[str, Any]:
    """Sloth's `alerting`: the alerts' name, labels and annotations, per severity and for both."""
    converted: dict[str, Any] = {}
    if alerting.get("name"):
        converted["name"] = str(alerting["name"])
    converted.update(string_maps(alerting))
    for theirs, ours in (
        (key("page_alert", "pageAlert"), "page"),
        (key("ticket_alert", "ticketAlert"), "ticket"),
    ):
        alert = mapping(alerting.get(theirs), theirs)
        setting: dict[str, Any] = {"enabled": False} if alert.get("disable") else {}
        setting.update(string_maps(alert))
        for label in _RESERVED & set(setting.get("labels", {})):
            notes.append(
                f"{where}: {theirs} label {label}={setting['labels'][label]!r} (oncall sets "
                f"{label}={_RESERVED_AS[label].format(severity=ours)} on its alerts)"
            )
        if setting:
            converted[ours] = setting
    return converted
