"""Which playbooks address an alert, the most specific first."""

from __future__ import annotations

from console.playbooks.model import AppliesTo, Playbook


def matches(playbook: Playbook, alert_name: str, labels: dict[str, str]) -> int:
    """How specifically a playbook addresses an alert (0: it does not)."""
    from console.rules.matchers import parse_matcher

    rule = playbook.applies_to
    score = _named_score(rule, alert_name, labels)
    if not rule.labels:
        return score
    if not all(parse_matcher(m).matches(labels) for m in rule.labels):
        return 0
    return score + 2 if score else 0


def _named_score(rule: AppliesTo, alert_name: str, labels: dict[str, str]) -> int:
    """4 when the playbook names the alert, 3 its SLO, 1 its model."""
    named = (
        (4, alert_name in rule.alerts or labels.get("alertname") in rule.alerts),
        (3, _names(rule.slos, labels.get("slo"))),
        (1, _names(rule.models, labels.get("model"))),
    )
    return sum(weight for weight, hit in named if hit)


def _names(names: list[str], value: str | None) -> bool:
    return bool(value) and value in names


def match_playbooks(library: dict[str, Playbook], alert_name: str, labels: dict[str, str]) -> list[Playbook]:
    """Playbooks that address this alert, the most specific first."""
    scored = [(matches(p, alert_name, labels), p.id, p) for p in library.values()]
    return [p for score, _, p in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]
