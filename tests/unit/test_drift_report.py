"""`oncall drift --report FILE.md|FILE.html`: histograms of both sides, and hostile names kept inert."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HOSTILE = '<script>alert("x")</script>|**b**\n[l](http://evil.example/)'
HOSTILE_VALUE = "<img src=x onerror=alert(1)>"


def oncall(*argv, cwd):
    return subprocess.run(
        [str(Path(sys.executable).with_name("oncall")), "drift", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {"amount": rng.normal(100, 10, 1500), HOSTILE: rng.choice(["a", HOSTILE_VALUE], 1500)}
    )
    current = pd.DataFrame(
        {"amount": rng.normal(130, 10, 1200), HOSTILE: rng.choice(["a", HOSTILE_VALUE], 1200, p=[0.9, 0.1])}
    )
    reference.to_parquet(tmp_path / "reference.parquet")
    current.to_parquet(tmp_path / "current.parquet")
    return tmp_path


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained_with_both_histograms_and_escapes_names(files):
    done = oncall(
        "--reference", "reference.parquet", "--current", "current.parquet", "--report", "r.html", cwd=files
    )
    assert done.returncode == 1, done.stderr
    page = (files / "r.html").read_text()
    assert stat.S_IMODE((files / "r.html").stat().st_mode) == 0o600
    parsed = _Collect()
    parsed.feed(page)
    assert not parsed.tags & {"script", "img", "a", "link", "iframe", "object", "embed"}
    assert not [v for k, v in parsed.attributes if k in ("src", "href", "onerror")]
    assert "http://evil.example/" not in " ".join(str(v) for _, v in parsed.attributes)
    text = "".join(parsed.text)
    assert '<script>alert("x")</script>' in text  # shown as text, newline shown as \n
    assert "\\n[l](http://evil.example/)" in text and HOSTILE_VALUE in text
    # one histogram a column, each bin with the reference's and the current's share
    assert page.count("<th>bin</th><th>reference</th><th>current</th>") == 2
    amount = page.split("<h3>amount")[1].split("</table>")[0]
    assert amount.count('class="bar ref"') == 10 and amount.count('class="bar cur"') == 10
    shares = [float(s) for s in re.findall(r"</span> ([0-9.]+)%", amount)]
    assert sum(shares[0::2]) == pytest.approx(100, abs=0.5) and sum(shares[1::2]) == pytest.approx(
        100, abs=0.5
    )
    assert shares[1::2][-1] > 50  # the current moved up into the reference's top decile


def test_markdown_report_escapes_table_syntax_and_html(files):
    done = oncall(
        "--reference", "reference.parquet", "--current", "current.parquet", "--report", "r.md", cwd=files
    )
    assert done.returncode == 1, done.stderr
    text = (files / "r.md").read_text()
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;" in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "jensenshannon" in line]
    assert len(rows) == 1
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 10  # 9 cells: the name's | is escaped
    assert "\\[l\\](http://evil.example/)" in text  # no link
    assert "### amount (num)" in text and "| bin | reference | | current | |" in text
    assert text.count("█") > 20


def test_report_that_cannot_be_written_is_one_line(files):
    done = oncall(
        "--reference",
        "reference.parquet",
        "--current",
        "current.parquet",
        "--report",
        "no/such/r.md",
        cwd=files,
    )
    assert done.returncode == 2
    assert "--report no/such/r.md: cannot write" in done.stderr and "Traceback" not in done.stderr
