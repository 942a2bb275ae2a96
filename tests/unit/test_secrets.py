"""Masking URLs and redacting secret values: what a user sees instead of the secret."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from collectors.run import describe
from collectors.scrape import instance_of
from console.core.secrets import RedactingFormatter, mask_url, mask_urls, redact, remember, url_secrets
from console.runtime.lastgood import LastGood
from console.store import Store


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:S3cret@host:9090/metrics", "http://***@host:9090/metrics"),
        ("https://ghp_T0kenAsUser@host/x", "https://***@host/x"),
        ("http://h/m?token=S3cret&job=api", "http://h/m?token=***&job=api"),
        (
            "http://h/m?Access_Token=a&API_KEY=b&X-Amz-Signature=c&passwd=d&auth=e&credential=f",
            "http://h/m?Access_Token=***&API_KEY=***&X-Amz-Signature=***&passwd=***&auth=***&credential=***",
        ),
        ("http://h/m?flag&query=up&secret=", "http://h/m?flag&query=up&secret=***"),
        ("http://h/m?query=rate(x%5B5m%5D)", "http://h/m?query=rate(x%5B5m%5D)"),  # untouched
        ("http://[::1]:9090/m?q=1#top", "http://[::1]:9090/m?q=1#top"),
    ],
)
def test_mask_url_hides_userinfo_and_secret_named_parameters(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_mask_url_never_raises_on_garbage() -> None:
    assert mask_url("http://[bad") == "***"
    assert mask_url("not a url") == "not a url"


def test_redact_masks_urls_in_text_and_keeps_the_sentence() -> None:
    text = "http://u:pw@h:1/m?token=abc: timed out; see https://docs/x?api_key=k, or http://plain/ok."
    assert redact(text) == (
        "http://***@h:1/m?token=***: timed out; see https://docs/x?api_key=***, or http://plain/ok."
    )


def test_redact_takes_out_remembered_values_and_their_encodings() -> None:
    remember(["Pa55/w:rd-echoed", "abc"])  # "abc" is too short to search for
    assert (
        redact("HTTP 403: no Pa55/w:rd-echoed here, nor Pa55%2Fw%3Ard-echoed; abc")
        == "HTTP 403: no *** here, nor ***; abc"
    )
    assert (
        redact("forbidden for Bearer eyJhbGciOi.J9-x and Basic authentication required")
        == "forbidden for Bearer *** and Basic authentication required"
    )


def test_url_secrets_are_what_a_server_could_echo() -> None:
    found = url_secrets("http://user:S3%40cret@h/m?token=T0k+en&job=api")
    basic = base64.b64encode(b"user:S3@cret").decode()
    assert {"S3%40cret", "S3@cret", basic, "T0k+en", "T0k en"} <= set(found)
    assert "api" not in found


def test_describe_redacts_any_exception() -> None:
    error = httpx.InvalidURL("Invalid port: 'x' in http://u:S3cret@h:x/?token=S3cret")
    assert describe(error) == "InvalidURL: Invalid port: 'x' in http://***@h:x/?token=***"


def test_the_scrape_instance_is_host_and_port_only() -> None:
    assert instance_of("http://user:S3cret@10.0.0.5:9100/metrics?token=S3cret") == "10.0.0.5:9100"
    assert instance_of("https://[::1]:9100/metrics") == "[::1]:9100"
    assert instance_of("http://exporter/metrics") == "exporter"


def test_logged_lines_and_tracebacks_are_redacted(tmp_path: Path) -> None:
    remember(["logged-S3cret-value"])
    path = tmp_path / "console.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.secrets.redacting")
    logger.addHandler(handler)
    try:
        raise RuntimeError("GET http://u:pw-in-url@h/?token=t0k failed: logged-S3cret-value")
    except RuntimeError as exc:
        logger.error("collector failed", exc_info=exc)
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = path.read_text()
    assert "RuntimeError: GET http://***@h/?token=*** failed: ***" in text
    assert "pw-in-url" not in text and "logged-S3cret-value" not in text and "t0k" not in text


def test_the_last_good_copy_of_a_config_keeps_its_urls_masked(tmp_path: Path) -> None:
    text = "sources:\n  - {name: a, kind: scrape, url: 'http://u:S3cret@h/m?token=S3cret'}\n"
    with Store.open(tmp_path / "s.duckdb") as store:
        LastGood(store).keep(tmp_path / "oncall.yaml", "workspace", text, datetime(2026, 1, 1))
        kept = LastGood(store).get(tmp_path / "oncall.yaml")
    assert kept.text == mask_urls(text) and "S3cret" not in kept.text
    assert kept.sha256 == hashlib.sha256(text.encode()).hexdigest()  # the file's own


def test_an_error_stored_before_redaction_is_masked_in_the_overview(tmp_path: Path) -> None:
    """A store written by an older oncall keeps its raw last_error: the Overview masks it on show."""
    from console.screens.overview import collector_rows

    with Store.open(tmp_path / "s.duckdb") as store, store.transaction() as cur:
        cur.execute(
            "INSERT INTO collector_state (name, healthy, last_error, updated_at) "
            "VALUES ('prom', false, ?, ?)",
            ["http://user:S3cret@h:9090/api?token=S3cret: cannot connect", datetime(2026, 11, 20)],
        )
    with Store.open(tmp_path / "s.duckdb") as store:
        (row,) = collector_rows(store)
    assert "S3cret" not in row[4] and "http://***@h:9090/api?token=***: cannot connect" in row[4]
