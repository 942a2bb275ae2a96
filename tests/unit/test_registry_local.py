"""The local registry, alias history, registry options validation and the registry collector."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from collectors.registry import RegistryCollector, RegistryCollectorOptions
from console.config.workspace import load_workspace
from console.registry import RegistryError, registry_problems
from console.registry.history import alias_history, holder_at
from console.registry.local import LocalOptions, LocalRegistry, seed_demo_registry
from console.store import Store

NOW = datetime(2026, 3, 1, 12, 0)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as opened:
        yield opened


def test_seed_demo_gives_three_versions_with_champion_on_three(store):
    registry = seed_demo_registry(store, now=NOW)
    seed_demo_registry(store, now=NOW)  # seeding again adds nothing
    [model] = registry.list_models()
    assert model.name == "fraud-detector" and model.aliases == {"champion": "3"}
    versions = registry.list_versions("fraud-detector")
    assert [v.version for v in versions] == ["1", "2", "3"]
    assert versions[2].aliases == ["champion"] and versions[0].metrics["auc"] < versions[2].metrics["auc"]
    assert versions[0].created_at == NOW - timedelta(days=20)


def test_unknown_model_version_and_alias_are_one_line_errors(store):
    registry = seed_demo_registry(store, now=NOW)
    with pytest.raises(RegistryError, match="no version '9'"):
        registry.set_alias("fraud-detector", "champion", "9")
    with pytest.raises(RegistryError, match="no alias 'canary'"):
        registry.resolve_alias("fraud-detector", "canary")
    with pytest.raises(RegistryError, match="no model named 'nope'"):
        registry.list_versions("nope")
    assert registry.resolve_alias("fraud-detector", "champion").version == "3"


def test_set_tag_keeps_other_tags(store):
    registry = seed_demo_registry(store, now=NOW)
    registry.set_tag("fraud-detector", "2", "note", "a\nb")
    tags = registry.get_version("fraud-detector", "2").tags
    assert tags["note"] == "a\nb" and "trained_on" in tags


def _collector(name="reg"):
    return RegistryCollector(name, RegistryCollectorOptions(adapter="local", registry="local"))


def test_collector_records_observed_moves_once_and_answers_who_served_when(store):
    registry = seed_demo_registry(store, now=NOW)
    collector = _collector()
    assert collector.collect(store, NOW).rows == 1  # champion first seen on v3
    assert collector.collect(store, NOW + timedelta(minutes=1)).rows == 0
    registry.set_alias("fraud-detector", "champion", "2")
    registry.set_alias("fraud-detector", "canary", "3")
    assert collector.collect(store, NOW + timedelta(minutes=2)).rows == 2
    registry.delete_alias("fraud-detector", "canary")
    assert collector.collect(store, NOW + timedelta(minutes=3)).rows == 1
    _, rows = alias_history(store, "fraud-detector", "champion")
    assert [(r[3], r[4]) for r in rows] == [(None, "3"), ("3", "2")]
    assert holder_at(store, "fraud-detector", "champion", NOW + timedelta(seconds=90)) == ("3", NOW)
    assert holder_at(store, "fraud-detector", "champion", NOW + timedelta(hours=1)) == (
        "2",
        NOW + timedelta(minutes=2),
    )
    assert holder_at(store, "fraud-detector", "canary", NOW + timedelta(hours=1))[0] is None
    assert holder_at(store, "fraud-detector", "champion", NOW - timedelta(days=1)) == (None, None)


def test_registry_options_are_validated_with_file_and_line(tmp_path):
    (tmp_path / "oncall.yaml").write_text(
        "registries:\n"
        "  - name: local\n"
        "    kind: local\n"
        "    serving_alais: champion\n"
        "  - name: ml\n"
        "    kind: mlflow\n"
        "    models:\n"
        "      m:\n"
        "        watch: {for: 5m, errors: {name: e}, total: {name: t}}\n"
    )
    problems = [str(p) for p in registry_problems(load_workspace(tmp_path / "oncall.yaml"))]
    text = "\n".join(problems)
    assert "oncall.yaml:4: registries[0].serving_alais: unknown option; did you mean 'serving_alias'?" in text
    assert "oncall.yaml:5" in text and "missing required option for a mlflow registry" in text
    assert "oncall.yaml:9" in text and "max_error_ratio" in text


def test_local_registry_on_a_read_only_store_refuses_writes_clearly(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store.open(path) as writable:
        seed_demo_registry(writable, now=NOW)
    with Store.open_read(path) as readonly:
        registry = LocalRegistry("local", LocalOptions(), store=readonly, clock=lambda: NOW)
        with pytest.raises(RegistryError, match="read-only"):
            registry.set_alias("fraud-detector", "champion", "1")
