"""The incident screen's CBPE lines beside drift: what the `estimation` source stored for the
incident's model (fraud-detector, the model its burning SLO measures), at 120×40 on a fixed clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from settle import settled
from textual.widgets import Static

from console.incidents.loop import run_incident_cycle
from console.store import canonical_labels, ingest_samples
from console.tui.app import OncallApp

SIZE = (120, 40)
NOW = pd.Timestamp("2026-11-20 12:00").to_pydatetime()  # the fixture workspace's fixed time
MODEL = "fraud-detector"
SOURCE = """  - name: estimate
    kind: estimation
    models:
      - model: fraud-detector
        reference: {span: 6h, ago: 12h}
        chunk_period: 1h
"""


@pytest.fixture
def with_estimation(workspace: Path) -> Path:
    """The fixture workspace with an `estimation` source for fraud-detector."""
    path = workspace / "oncall.yaml"
    text = path.read_text()
    path.write_text(text.replace("sources:\n", "sources:\n" + SOURCE, 1))
    return workspace


def store_estimates(store, at, metrics: dict[str, tuple[float, float, float, float, float, bool]]) -> None:
    """The series the estimation source writes: value, band, thresholds and alert per metric."""
    rows = []
    for metric, (value, lower, upper, low, high, alert) in metrics.items():
        model = canonical_labels({"model": MODEL})
        base = f"oncall_estimated_{metric}"
        for name, number in (
            (base, value),
            (f"{base}_lower", lower),
            (f"{base}_upper", upper),
            (f"{base}_lower_threshold", low),
            (f"{base}_upper_threshold", high),
        ):
            rows.append((name, model, at, number))
        labels = canonical_labels({"model": MODEL, "metric": metric})
        rows.append(("oncall_estimated_alert", labels, at, float(alert)))
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))


async def what_changed_text(session) -> str:
    """The incident screen's what-changed panel, as the engineer reads it."""
    run_incident_cycle(session.store, NOW - timedelta(minutes=5))
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"incidents", "enter")
        await settled(pilot)
        await pilot.press("enter")
        await settled(pilot)
        return app.screen.query_one("#inc-suspects", Static).render().plain


async def test_latest_estimates_show_with_band_and_which_threshold_alerts(
    with_estimation, session_for
) -> None:
    session = session_for(with_estimation)
    store_estimates(session.store, NOW - timedelta(hours=2), {"accuracy": (0.95, 0.9, 1.0, 0.8, 1.0, False)})
    store_estimates(
        session.store,
        NOW - timedelta(minutes=3),
        {
            "accuracy": (0.712, 0.69, 0.734, 0.801, 0.899, True),
            "roc_auc": (0.951, 0.94, 0.962, 0.85, 0.93, True),
            "f1": (0.655, 0.631, 0.679, 0.6, 0.7, False),
        },
    )
    text = await what_changed_text(session)
    assert "est. accuracy 0.712 [0.690–0.734] · ALERT below the lower threshold 0.801" in text
    assert "est. roc_auc 0.951 [0.940–0.962] · ALERT above the upper threshold 0.930" in text
    assert "est. f1 0.655 [0.631–0.679] · ok, within thresholds 0.600–0.700" in text
    assert "0.950" not in text  # the older estimate is not the latest
    assert text.index("est. accuracy") < text.index("1. ")  # beside drift, above the suspects


async def test_a_failed_estimation_is_a_loud_line(with_estimation, session_for) -> None:
    session = session_for(with_estimation)
    session.store.record_failure(
        "estimate", "SourceError: fraud-detector: 120 of 500 reference rows have no label", NOW
    )
    text = await what_changed_text(session)
    assert (
        "estimation of fraud-detector failed (source estimate): 120 of 500 reference rows have no label"
        in text
    )
    assert "est. " not in text


async def test_no_estimate_stored_recently_says_so(with_estimation, session_for) -> None:
    session = session_for(with_estimation)
    store_estimates(
        session.store, NOW - timedelta(hours=7), {"accuracy": (0.712, 0.69, 0.734, 0.801, 0.899, True)}
    )
    text = await what_changed_text(session)
    assert "no CBPE estimate of fraud-detector stored in the last 6h" in text
    assert "est. accuracy" not in text


async def test_no_estimation_source_no_line(workspace, session_for) -> None:
    session = session_for(workspace)
    store_estimates(
        session.store, NOW - timedelta(minutes=3), {"accuracy": (0.712, 0.69, 0.734, 0.801, 0.899, True)}
    )
    text = await what_changed_text(session)
    assert "est. " not in text and "estimat" not in text.lower()


async def test_what_the_estimation_source_stored_is_what_the_screen_shows(
    with_estimation, session_for
) -> None:
    """The real source on the fixture's prediction records (f1, precision and recall have no
    defined thresholds there: the reference chunks predict no positive)."""
    from console.drift.estimation_step import EstimationCollector, EstimationOptions

    session = session_for(with_estimation)
    [source] = [s for s in session.workspace.config.sources if s.kind == "estimation"]
    options = EstimationOptions.model_validate(source.options)
    EstimationCollector(source.name, options, base_dir=str(with_estimation)).collect(session.store, NOW)
    stored = dict(
        session.store.query(
            "SELECT s.name, x.value FROM samples x JOIN series s ON s.id = x.series_id "
            "WHERE s.name LIKE 'oncall_estimated_accuracy%'"
        )[1]
    )
    text = await what_changed_text(session)
    a = {key.removeprefix("oncall_estimated_accuracy"): value for key, value in stored.items()}
    assert (
        f"est. accuracy {a['']:.3f} [{a['_lower']:.3f}–{a['_upper']:.3f}] · ok, within thresholds "
        f"{a['_lower_threshold']:.3f}–{a['_upper_threshold']:.3f}"
    ) in text
    assert "est. f1 0.000 [0.000–0.000] · ok, thresholds undefined" in text
    assert "est. precision 0.000 [band undefined]" in text
