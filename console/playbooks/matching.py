"""Which playbooks address an alert, the most specific first."""

from __future__ import annotations

from console.playbooks.model import Playbook


def matches(playbook: Playbook, alert_name: str, labels: dict[str, str]) -> int:
    """How specifically a playbook addresses an alert (0: it does not)."""
    from console.rules.matchers import parse_matcher

    rule = playbook.applies_to
    score = 0
    if alert_name in rule.alerts or labels.get("alertname") in rule.alerts:
        score += 4
    if labels.get("slo") and labels["slo"] in rule.slos:
        score += 3
    if labels.get("model") and labels["model"] in rule.models:
        score += 1
    if rule.labels:
        if not all(parse_matcher(m).matches(labels) for m in rule.labels):
            return 0
        score += 2 if score else 0
    return score


def match_playbooks(library: dict[str, Playbook], alert_name: str, labels: dict[str, str]) -> list[Playbook]:
    """Playbooks that address this alert, the most specific first."""
    scored = [(matches(p, alert_name, labels), p.id, p) for p in library.values()]
    return [p for score, _, p in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]
