"""`oncall drift` as a script sees it: exit codes, JSON fields, what is read as missing, reports."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from console.cli.commands.drift import read_frame
from console.cli.commands.drift_common import column_payload, print_report
from console.cli.commands.drift_options import QUALITY_LIMITS
from console.drift.quality import QualityThresholds
from console.drift.stats import ColumnDrift, DatasetDrift


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
    rng = np.random.default_rng(7)
    n_ref, n_cur = 2000, 1500

    def frame(rows, shift=0.0, countries=("de", "fr")):
        return pd.DataFrame(
            {
                "amount": rng.normal(100 + shift, 10, rows),
                "age": rng.normal(40, 8, rows),
                "country": rng.choice(list(countries), rows),
            }
        )

    frame(n_ref).to_csv(tmp_path / "reference.csv", index=False)
    frame(n_cur).to_csv(tmp_path / "steady.csv", index=False)
    frame(n_cur, shift=30).to_csv(tmp_path / "one_column.csv", index=False)  # 1 of 3 columns drift
    both = frame(n_cur, shift=30)
    both["age"] = rng.normal(60, 8, n_cur)
    both.to_csv(tmp_path / "two_columns.csv", index=False)  # 2 of 3: dataset drift
    newcomer = frame(n_cur)
    newcomer.loc[:9, "country"] = "it"  # 10 rows of a new category, no drift
    newcomer.to_csv(tmp_path / "new_category.csv", index=False)
    return tmp_path


def _json(done):
    return json.loads(done.stdout)


def test_exit_0_when_clean(files):
    done = oncall("--reference", "reference.csv", "--current", "steady.csv", cwd=files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("exit 0: no drift, no quality problem")


def test_exit_1_dataset_drift_wins_over_a_quality_problem(files):
    done = oncall(
        "--reference", "reference.csv", "--current", "two_columns.csv", "--format", "json", cwd=files
    )
    assert done.returncode == 1
    assert _json(done)["outcome"] == {
        "exit_code": 1,
        "dataset_drift": True,
        "column_drift": True,
        "quality_problem": True,  # amount and age out of the reference's range
        "no_data": False,
    }


def test_exit_3_column_drift_without_dataset_drift(files):
    argv = ["--reference", "reference.csv", "--current", "one_column.csv"]
    done = oncall(*argv, "--max-out-of-range-share", "1", cwd=files)
    assert done.returncode == 3, done.stdout
    assert "dataset drift: no (1/3 columns drifted" in done.stdout
    assert "exit 3: column drift without dataset drift" in done.stdout
    # the same data with the default range limit: the quality problem (4) comes before column drift
    default = oncall(*argv, cwd=files)
    assert default.returncode == 4
    assert "exit 4: quality problem (also: column drift)" in default.stdout


def test_exit_4_quality_problem_and_its_limit_as_an_option(files):
    argv = ["--reference", "reference.csv", "--current", "new_category.csv"]
    done = oncall(*argv, "--format", "json", cwd=files)
    assert done.returncode == 4
    assert _json(done)["quality"]["problems"] == ["column 'country': new categories it in 0.00667 of rows"]
    assert oncall(*argv, "--max-new-category-share", "0.01", cwd=files).returncode == 0
    few = oncall(*argv, "--max-new-category-share", "0.01", "--min-rows", "1501", cwd=files)
    assert few.returncode == 4 and "current window has 1500 rows (< 1501)" in few.stdout


def test_no_data_is_exit_4_even_without_quality_checks(files):
    (files / "empty.csv").write_text("amount,age,country\n")
    done = oncall("--reference", "reference.csv", "--current", "empty.csv", "--no-quality", cwd=files)
    assert done.returncode == 4
    assert "dataset drift: no data" in done.stdout and "exit 4: no data" in done.stdout


def test_exit_codes_are_in_help(files):
    done = oncall("--help", cwd=files)
    text = " ".join(done.stdout.split())
    assert "1 dataset drift; 2 usage error; 3 one or more columns drifted without dataset drift" in text
    assert "the first of 1, 4, 3 wins" in text


def test_scores_are_labelled_with_their_rule_in_json_and_table(files):
    argv = ["--reference", "reference.csv", "--current", "one_column.csv", "--no-quality"]
    small = ["--method", "amount=ks", "--method", "age=wasserstein", "--method", "country=chisquare"]
    done = oncall(*argv, *small, "--format", "json", cwd=files)
    rules = {c["column"]: (c["score_kind"], c["drifts_when"]) for c in _json(done)["columns"]}
    assert rules == {
        "amount": ("p_value", "score <= threshold"),
        "age": ("distance", "score >= threshold"),
        "country": ("p_value", "score < threshold"),
    }
    table = oncall(*argv, *small, cwd=files).stdout.splitlines()
    assert table[0].split() == [
        *("COLUMN", "TYPE", "TEST", "SCORE", "SCORE", "IS", "DRIFTS", "WHEN", "VERDICT"),
        *("REF", "ROWS", "CUR", "ROWS"),
    ]
    by_column = {line.split()[0]: line.split() for line in table[1:4]}
    assert by_column["amount"][4:7] == ["p_value", "≤", "0.05"]
    assert by_column["age"][4:7] == ["distance", "≥", "0.1"]
    assert by_column["country"][4:7] == ["p_value", "<", "0.05"]


def test_global_threshold_and_kind_method_apply_to_every_column_of_the_kind(files):
    argv = ["--reference", "reference.csv", "--current", "one_column.csv", "--no-quality", "--format", "json"]
    done = oncall(*argv, "--num-method", "psi", "--threshold", "0.5", "--threshold", "age=0.01", cwd=files)
    columns = {c["column"]: (c["method"], c["threshold"]) for c in _json(done)["columns"]}
    assert columns == {"amount": ("psi", 0.5), "age": ("psi", 0.01), "country": ("jensenshannon", 0.5)}


def test_id_and_text_columns_are_left_out_and_said_so(files, tmp_path):
    reference = pd.read_csv(files / "reference.csv")
    current = pd.read_csv(files / "steady.csv")
    reference["user_id"] = [f"u{i}" for i in range(len(reference))]
    current["user_id"] = [f"u{i + 90_000}" for i in range(len(current))]
    reference["note"] = "fine"
    current["note"] = [f"call back {i}" for i in range(len(current))]
    reference.to_csv(files / "ref_ids.csv", index=False)
    current.to_csv(files / "cur_ids.csv", index=False)
    argv = ["--reference", "ref_ids.csv", "--current", "cur_ids.csv"]
    before = oncall(*argv, "--format", "json", cwd=files)
    assert before.returncode == 4  # the ids "drift" and are "new categories"
    types = ["--column-type", "user_id=id", "--column-type", "note=text"]
    done = oncall(*argv, *types, cwd=files)
    assert done.returncode == 0, done.stdout
    assert "excluded: user_id: id column (--column-type): identifiers are not drift-tested" in done.stdout
    assert "excluded: note: text column (--column-type): no text drift test" in done.stdout
    assert "user_id" not in done.stdout.split("\n\n")[0]  # not a row of the table
    excluded = oncall(*argv, "--exclude", "user_id", "--exclude", "note", "--format", "json", cwd=files)
    report = _json(excluded)
    assert [e["column"] for e in report["excluded"]] == ["user_id", "note"]
    assert {c["column"] for c in report["columns"]} == {"amount", "age", "country"}
    assert {c["column"] for c in report["quality"]["columns"]} == {"amount", "age", "country"}


def test_na_none_null_nan_are_values_unless_na_values_says(tmp_path):
    text = "region,score\nNA,1.5\nEU,\nNone,2.5\nnull,3.5\nnan,4.5\nN/A,5.5\n,6.5\n"
    (tmp_path / "a.csv").write_text(text)
    frame = read_frame(str(tmp_path / "a.csv"))
    assert frame["region"].tolist()[:6] == ["NA", "EU", "None", "null", "nan", "N/A"]
    assert frame["region"].isna().tolist() == [False] * 6 + [True]
    assert frame["score"].isna().sum() == 1 and frame["score"].dtype == np.float64
    more = read_frame(str(tmp_path / "a.csv"), ["NA", "null"])
    assert more["region"].isna().tolist() == [True, False, False, True, False, False, True]


def _hard_floats(count: int) -> list[str]:
    """Decimal texts of many digits, tiny and huge exponents, and halfway cases between doubles."""
    rng = random.Random(11)
    texts = []
    for _ in range(count):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(15, 30)))
        texts.append(f"{rng.choice(['', '-'])}{digits[0]}.{digits[1:]}e{rng.randint(-320, 300)}")
    for x in np.random.default_rng(12).normal(0, 1, count):
        texts.append(repr(float(x)))
    return texts


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_numbers_parse_to_the_same_double_as_python_float(tmp_path, suffix):
    texts = _hard_floats(3000)
    path = tmp_path / f"numbers{suffix}"
    if suffix == ".csv":
        path.write_text("x\n" + "\n".join(texts) + "\n")
    else:
        path.write_text("\n".join('{"x": ' + t + "}" for t in texts) + "\n")
    parsed = read_frame(str(path))["x"].to_numpy()
    wrong = [t for t, value in zip(texts, parsed) if value != float(t)]
    assert wrong == []


def test_nan_and_inf_scores_are_not_no_data():
    nan = ColumnDrift("x", "num", "psi", float("nan"), 0.1, False, 10, 10)
    inf = ColumnDrift("y", "num", "kl_div", float("inf"), 0.1, True, 10, 10)
    empty = ColumnDrift("z", "num", None, None, None, None, 10, 0, "no data")
    payloads = [json.loads(json.dumps(column_payload(c))) for c in (nan, inf, empty)]
    assert [(p["score"], p["status"]) for p in payloads] == [("nan", "ok"), ("inf", "ok"), (None, "no data")]
    lines: list[str] = []

    class _Out:
        def out(self, text: str) -> None:
            lines.append(text)

    from console.cli.commands.drift_common import outcome

    drift = DatasetDrift([nan, inf, empty], 0.5)
    print_report(_Out(), drift, None, {}, outcome(drift, None))  # type: ignore[arg-type]
    table = "\n".join(lines).splitlines()
    rows = {line.split()[0]: line.split() for line in table[1:4]}
    assert rows["x"][3] == "nan" and rows["y"][3] == "inf"
    assert rows["z"][-4:] == ["no", "data", "10", "0"] and "nan" not in rows["z"]


def test_quality_defaults_in_help_are_the_checks_defaults():
    defaults = QualityThresholds()
    assert {name: default for name, default in QUALITY_LIMITS.values()} == {
        name: getattr(defaults, name) for name, _ in QUALITY_LIMITS.values()
    }


def test_a_column_of_numbers_with_na_texts_gets_a_note(tmp_path):
    rows = [str(v) for v in np.random.default_rng(1).normal(0, 1, 300)]
    (tmp_path / "ref.csv").write_text("x\n" + "\n".join(rows) + "\n")
    (tmp_path / "cur.csv").write_text("x\n" + "\n".join(rows[:290] + ["NA"] * 5 + ["null"] * 5) + "\n")
    argv = ["--reference", "ref.csv", "--current", "cur.csv", "--no-quality", "--format", "json"]
    report = _json(oncall(*argv, cwd=tmp_path))
    assert report["columns"][0]["kind"] == "cat"
    assert report["notes"] == [
        "column 'x' holds numbers and 10 texts NA, null, so it is categorical; "
        "--na-values NA --na-values null reads them as missing"
    ]
    fixed = _json(oncall(*argv, "--na-values", "NA", "--na-values", "null", cwd=tmp_path))
    assert fixed["columns"][0]["kind"] == "num" and fixed["columns"][0]["current_rows"] == 290
    assert fixed["notes"] == []


def test_a_test_that_cannot_score_a_column_says_why_in_the_table(tmp_path):
    """Fisher's exact is for two categories: on three the column fails, and the table says why."""
    pd.DataFrame({"plan": ["a", "b", "c"] * 40}).to_csv(tmp_path / "ref.csv", index=False)
    pd.DataFrame({"plan": ["a", "b", "c", "c"] * 30}).to_csv(tmp_path / "cur.csv", index=False)
    argv = ("--reference", "ref.csv", "--current", "cur.csv", "--method", "plan=fisher_exact")
    done = oncall(*argv, cwd=tmp_path)
    assert "failed" in done.stdout
    [note] = [line for line in done.stdout.splitlines() if line.startswith("note: plan (fisher_exact): ")]
    assert "categor" in note
