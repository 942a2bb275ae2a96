"""Rule tests in promtool's format (`oncall rules test`): the test file, its series notation,
and promtool's way of printing what failed.  The run itself steps alerts, so it lives in
console/alerts/promtest.py (the alerts layer sits above the rules layer)."""
