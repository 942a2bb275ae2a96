"""Prometheus recording and alerting rules for SLOs, in Sloth's shapes (`oncall slo generate`).

Per SLO three rule groups, named and shaped as `sloth generate` writes them, so Sloth's
Grafana dashboards read the result: the error ratio over every window
(`slo:sli_error:ratio_rate<w>`), the SLO's metadata (`slo:objective:ratio`,
`slo:error_budget:ratio`, burn rates, budget remaining, `sloth_slo_info`), and one alert per
multiwindow burn condition of `console.slo.conditions.slo_alert_conditions` — the same name,
labels and annotations as the alerts the console raises itself, so Alertmanager routes,
silences and playbooks keep matching when the evaluation moves into a Prometheus.

The error ratios are written as the console computes them (docs/slo.md, "The numbers"): a
group whose numerator has no series counts 0 events there, and a window with fewer than
`min_events` events has no ratio (so it holds no condition).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import yaml

from console.config.durations import format_duration
from console.slo.conditions import AlertCondition, slo_alert_conditions, slo_windows
from console.slo.model import SLO
from console.store.selectors import Matcher, Selector, parse_selector

SLI_METRIC = "slo:sli_error:ratio_rate"
# The console's own burn alerts carry this name (console.rules.families.SLO_ALERT).
ALERT_NAME = "SLOErrorBudgetBurn"
ID_LABEL, SLO_LABEL, SERVICE_LABEL = "sloth_id", "sloth_slo", "sloth_service"
WINDOW_LABEL, SEVERITY_LABEL = "sloth_window", "sloth_severity"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class GenerateError(ValueError):
    """An SLO that cannot be written as Prometheus rules; the message names it and why."""


def _sloth_names(slo: SLO) -> tuple[str, str]:
    """Sloth's id (`<service>-<slo>`) and SLO name. An SLO named `<service>-<x>`, as
    `oncall slo import` names Sloth's SLO `x`, keeps Sloth's id and name, so its series go on."""
    prefix = f"{slo.service}-"
    if slo.service and slo.name.startswith(prefix) and len(slo.name) > len(prefix):
        return slo.name, slo.name[len(prefix) :]
    return (prefix + slo.name if slo.service else slo.name), slo.name


def sloth_id(slo: SLO) -> str:
    """Sloth's SLO id: `<service>-<name>`, or the name alone for an SLO without a service."""
    return _sloth_names(slo)[0]


def id_labels(slo: SLO) -> dict[str, str]:
    """The labels that identify an SLO's series (Sloth's `sloth_id`, `sloth_service`, `sloth_slo`)."""
    ident, name = _sloth_names(slo)
    labels = {ID_LABEL: ident, SLO_LABEL: name}
    if slo.service:
        labels[SERVICE_LABEL] = slo.service
    return dict(sorted(labels.items()))


def _filter(slo: SLO) -> str:
    return "{" + ", ".join(str(Matcher(k, "=", v)) for k, v in id_labels(slo).items()) + "}"


def sli_windows(slo: SLO) -> list[timedelta]:
    """The windows an error ratio is recorded for: the console's, and every condition's."""
    return slo_windows(slo)


def _le_matcher(selector: Selector, bound: float) -> Selector:
    """The bucket of one `le` bound; the console compares `le` as a number, PromQL as text, so
    both spellings client libraries write (`1` from Go, `1.0` from Python) are matched."""
    spellings = ["+Inf"] if bound == float("inf") else [repr(bound)]
    if bound != float("inf") and bound.is_integer() and abs(bound) < 1e21:
        spellings.insert(0, str(int(bound)))
    if len(spellings) == 1:
        return selector.with_matcher("le", "=", spellings[0])
    return selector.with_matcher("le", "=~", "|".join(re.escape(s) for s in spellings))


def _parts(slo: SLO) -> tuple[Selector, Selector, bool]:
    """The numerator and denominator selectors, and whether the numerator counts good events."""
    if slo.sli.ratio is not None:
        ratio = slo.sli.ratio
        return (
            parse_selector(ratio.good or ratio.bad or ""),
            parse_selector(ratio.total),
            ratio.good is not None,
        )
    latency = slo.sli.latency
    assert latency is not None
    buckets = parse_selector(latency.buckets)
    if any(m.label == "le" for m in buckets.matchers):
        raise GenerateError(f"SLO {slo.name}: buckets {latency.buckets!r} must not match `le` itself")
    return _le_matcher(buckets, float(latency.threshold)), _le_matcher(buckets, float("inf")), True


def _sum(func: str, selector: Selector, window: str, by: list[str]) -> str:
    grouping = f"sum by ({', '.join(by)}) " if by else "sum"
    return f"{grouping}({func}({selector}[{window}]))"


def sli_expr(slo: SLO, window: timedelta) -> str:
    """PromQL for the SLO's error ratio over `window`, one series per `by` group."""
    num, den, good_based = _parts(slo)
    w, by = format_duration(window), sorted(set(slo.by))
    total = _sum("rate", den, w, by)
    counted = f"({_sum('rate', num, w, by)} or 0 * {total})"  # no numerator series: 0 events
    expr = f"1 - {counted}\n/\n{total}" if good_based else f"{counted}\n/\n{total}"
    if slo.min_events is not None:  # fewer events: "low traffic", no ratio
        expr = (
            f"({expr})\nand on({', '.join(by)})\n"
            f"({_sum('increase', den, w, by)} >= {float(slo.min_events)!r})"
        )
    return expr


def _check_labels(slo: SLO, conditions: list[AlertCondition]) -> None:
    names = {"label": [*slo.labels, *slo.by], "annotation": []}
    for cond in conditions:
        names["label"] += list(cond.labels)
        names["annotation"] += list(cond.annotations)
    for kind, found in names.items():
        for name in found:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise GenerateError(f"SLO {slo.name}: {kind} {name!r} is not a Prometheus label name")
    ours = {ID_LABEL, SLO_LABEL, SERVICE_LABEL, WINDOW_LABEL, SEVERITY_LABEL}
    for label in sorted((set(slo.labels) | set(slo.by)) & ours):
        raise GenerateError(f"SLO {slo.name}: label {label!r} is the generated rules' own; rename it")
    for label in sorted(set(slo.labels) & set(slo.by)):
        raise GenerateError(f"SLO {slo.name}: label {label!r} is also a `by` label; rename one")
    alert_labels = {k for cond in conditions for k in cond.labels}
    for label in sorted(set(slo.by) & alert_labels):
        raise GenerateError(f"SLO {slo.name}: `by` label {label!r} is also an alert label; rename one")


def _literal(text: str) -> str:
    """Text that Prometheus's (Go) template engine prints as it is, as the console shows it."""
    return text if "{{" not in text else "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def _number(value: float) -> str:
    return repr(float(value))


def _threshold(slo: SLO, cond: AlertCondition) -> str:
    """`(factor * budget)` as Sloth writes it, when that is the condition's exact threshold."""
    if cond.factor * slo.budget == cond.threshold:
        return f"({_number(cond.factor)} * {_number(slo.budget)})"
    return _number(cond.threshold)


def _recordings(slo: SLO, windows: list[timedelta]) -> list[dict[str, Any]]:
    common = {**id_labels(slo), **slo.labels}
    rules = [
        {
            "record": SLI_METRIC + format_duration(w),
            "expr": sli_expr(slo, w),
            "labels": {**common, WINDOW_LABEL: format_duration(w)},
        }
        for w in windows
    ]
    if slo.window not in windows:  # Sloth's period ratio: the mean of the shortest window's
        short = SLI_METRIC + format_duration(windows[0]) + _filter(slo)
        period = format_duration(slo.window)
        rules.append(
            {
                "record": SLI_METRIC + period,
                "expr": f"sum_over_time({short}[{period}])\n/ ignoring ({WINDOW_LABEL})\n"
                f"count_over_time({short}[{period}])",
                "labels": {**common, WINDOW_LABEL: period},
            }
        )
    return rules


def _metadata(slo: SLO, windows: list[timedelta], version: str) -> list[dict[str, Any]]:
    labels = {**id_labels(slo), **slo.labels}
    where = _filter(slo)
    on = ", ".join(id_labels(slo))

    def burn(window: timedelta) -> str:
        return (
            f"{SLI_METRIC}{format_duration(window)}{where}\n/ on({on}) group_left\n"
            f"slo:error_budget:ratio{where}"
        )

    objective = _number(slo.objective / 100)
    info = {
        **labels,
        "sloth_mode": "cli-gen-prom",
        "sloth_objective": f"{slo.objective:g}",
        "sloth_spec": "oncall/v1",
        "sloth_version": version,
    }
    return [
        {"record": "slo:objective:ratio", "expr": f"vector({objective})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{objective})", "labels": labels},
        {
            "record": "slo:time_period:days",
            "expr": f"vector({slo.window.total_seconds() / 86400:g})",
            "labels": labels,
        },
        {"record": "slo:current_burn_rate:ratio", "expr": burn(windows[0]), "labels": labels},
        {"record": "slo:period_burn_rate:ratio", "expr": burn(slo.window), "labels": labels},
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{where}",
            "labels": labels,
        },
        {"record": "sloth_slo_info", "expr": "vector(1)", "labels": dict(sorted(info.items()))},
    ]


def _alerts(slo: SLO, conditions: list[AlertCondition]) -> list[dict[str, Any]]:
    where = _filter(slo)
    name = slo.alerting.name or ALERT_NAME
    rules = []
    for cond in conditions:
        threshold = _threshold(slo, cond)
        legs = [
            f"max({SLI_METRIC}{format_duration(w)}{where} > {threshold}) without ({WINDOW_LABEL})"
            for w in (cond.long_window, cond.short_window)
        ]
        rules.append(
            {
                "alert": name,
                "expr": "\nand\n".join(legs),
                "labels": {k: _literal(v) for k, v in {**cond.labels, SEVERITY_LABEL: cond.severity}.items()},
                "annotations": {k: _literal(v) for k, v in cond.annotations.items()},
            }
        )
    return rules


def rule_groups(slo: SLO, *, interval: timedelta | None = None, version: str = "") -> list[dict[str, Any]]:
    """The SLO's three rule groups (SLI recordings, metadata, alerts) as Prometheus rule-file data."""
    conditions = slo_alert_conditions(slo)
    _check_labels(slo, conditions)
    windows = sli_windows(slo)
    ident = sloth_id(slo)
    groups = [
        {"name": f"sloth-slo-sli-recordings-{ident}", "rules": _recordings(slo, windows)},
        {"name": f"sloth-slo-meta-recordings-{ident}", "rules": _metadata(slo, windows, version)},
    ]
    if conditions:
        groups.append({"name": f"sloth-slo-alerts-{ident}", "rules": _alerts(slo, conditions)})
    if interval is not None:
        for group in groups:
            group["interval"] = format_duration(interval)
    return [{k: group[k] for k in ("name", "interval", "rules") if k in group} for group in groups]


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions as `|` blocks, as Sloth writes them; no anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def generate_rules(slos: list[SLO], *, interval: timedelta | None = None, version: str = "") -> str:
    """One Prometheus rule file (YAML) for the SLOs: every SLO's groups, in the order given."""
    seen: dict[str, str] = {}
    for slo in slos:
        other = seen.setdefault(sloth_id(slo), slo.name)
        if other != slo.name:
            raise GenerateError(
                f"SLOs {other} and {slo.name} would both be Sloth's {sloth_id(slo)!r}; rename one"
            )
    groups = [group for slo in slos for group in rule_groups(slo, interval=interval, version=version)]
    body = yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16)
    return (
        "# Generated by `oncall slo generate`. DO NOT EDIT: change the SLO files and generate again.\n" + body
    )
