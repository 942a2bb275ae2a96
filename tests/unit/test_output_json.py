"""`--format json` as the read commands print it: every value kind comes out as the user reads it."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pytest

from console.core.output import dumps


def test_each_kind_of_value_is_encoded_as_documented():
    data = {
        "naive": datetime(2026, 11, 20, 12, 0, 0, 250000),
        "aware": datetime(2026, 11, 20, 12, tzinfo=timezone(timedelta(hours=2))),
        "day": date(2026, 11, 20),
        "span": timedelta(minutes=5),
        "decimal": Decimal("0.125"),
        "raw": b"\x00\xff",
        "nan": math.nan,
        "inf": -math.inf,
        "numpy": np.float64(0.5),
        "numpy_nan": np.float64("nan"),
        "nested": [(1, 2.5), {"k": None}],
        "text": "région",
    }
    out = dumps(data)
    assert json.loads(out) == {
        "naive": "2026-11-20T12:00:00.250000Z",
        "aware": "2026-11-20T12:00:00+02:00",
        "day": "2026-11-20",
        "span": 300.0,
        "decimal": 0.125,
        "raw": "00ff",
        "nan": None,
        "inf": None,
        "numpy": 0.5,
        "numpy_nan": None,
        "nested": [[1, 2.5], {"k": None}],
        "text": "région",
    }
    assert "région" in out and out.startswith('{\n  "naive"')  # readable, indented


def test_what_orjson_refuses_still_comes_out():
    """Keys that are not text and integers past 64 bits go through the standard library."""
    assert json.loads(dumps({1: 2**70, "when": datetime(2026, 1, 1)})) == {
        "1": 2**70,
        "when": "2026-01-01T00:00:00Z",
    }


def test_a_value_of_no_known_kind_is_an_error_not_a_guess():
    with pytest.raises(TypeError):
        dumps({"v": object()})
