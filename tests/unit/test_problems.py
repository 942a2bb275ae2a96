"""One translator of pydantic errors (console.config.problems): what a wrong file reads like."""

from __future__ import annotations

import textwrap

import pytest

from console.playbooks.loading import PlaybookError, load_playbook
from console.rules.loading import load_rule_file


def test_an_unknown_key_inside_a_named_input_suggests_the_right_one(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            id: echo
            title: echo a label
            steps:
              - id: run
                kind: command
                argv: [echo, "{{ inputs.service }}"]
                inputs:
                  service: {tpye: label, from: "{{ labels.service }}"}
            """
        )
    )
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    assert f"{path}:8: steps[0].inputs.service.tpye: unknown key; did you mean 'type'?" in [
        str(p) for p in info.value.problems
    ]


def test_a_bad_duration_names_what_was_read_once(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: SELECT 1 AS value\n"
        "        for: 5 min\n"
    )
    [problem] = load_rule_file(path).problems
    assert str(problem).count("'5 min'") == 1, str(problem)
    assert "not a duration: '5 min' (use e.g." in str(problem)


def test_a_number_where_text_belongs_still_shows_what_was_read(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("groups:\n  - name: 1\n    rules: []\n")
    [problem] = load_rule_file(path).problems
    assert "(got 1)" in str(problem)
