"""`oncall slo import`: Sloth `prometheus/v1` (and its Kubernetes CRD) and OpenSLO (v1, and the
v1alpha Sloth reads) into oncall's SLO format; each SLO that cannot convert is named with why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from console.config.problems import validation_problems
from console.config.yamlmarks import MarkedDict, Problem, load_marked_all, plain
from console.slo.importers.openslo import from_openslo, from_openslo_alpha
from console.slo.importers.sloth import from_sloth

__all__ = ["SLOImportError", "convert_documents", "convert_file"]


class SLOImportError(Exception):
    """A file that is not a Sloth or OpenSLO document at all."""


def _convert(doc: Any, slis: dict[str, dict], where: str, notes: list[str]) -> list[dict[str, Any]]:
    """One document's SLOs (Sloth's or OpenSLO's); anything else is noted."""
    if not isinstance(doc, dict):
        notes.append(f"{where}: not a mapping")
        return []
    version, api, kind = doc.get("version"), str(doc.get("apiVersion", "")), doc.get("kind")
    if version == "prometheus/v1":
        return from_sloth(doc, where, notes, camel=False)
    if api.startswith("sloth.slok.dev/") and kind == "PrometheusServiceLevel":
        return from_sloth(doc, where, notes, camel=True)
    if api == "openslo/v1" and kind == "SLO":
        return from_openslo(doc, slis, where, notes)
    if api == "openslo/v1alpha" and kind == "SLO":
        return from_openslo_alpha(doc, where, notes)
    if api == "openslo/v1" and kind == "SLI":
        return []
    if api.startswith("openslo/"):
        notes.append(f"{where}: {api} {kind} (only openslo/v1 SLO and SLI, and v1alpha SLO, convert)")
    else:
        notes.append(f"{where}: neither Sloth prometheus/v1 nor OpenSLO")
    return []


def convert_documents(docs: list[Any], origin: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Sloth or OpenSLO documents into oncall SLO mappings, and notes on what was dropped."""
    notes: list[str] = []
    slis = {
        str(d["metadata"].get("name")): d
        for d in docs
        if isinstance(d, dict) and d.get("kind") == "SLI" and isinstance(d.get("metadata"), dict)
    }
    slos: list[dict[str, Any]] = []
    for index, doc in enumerate(docs):
        slos += _convert(doc, slis, f"{origin} document {index + 1}", notes)
    return _validated(slos, origin, notes), notes


def _validated(slos: list[dict[str, Any]], origin: str, notes: list[str]) -> list[dict[str, Any]]:
    from console.slo.model import SLO

    kept, names = [], set()
    for slo in slos:
        if slo.get("name") in names:
            notes.append(f"{origin} {slo.get('name')}: a second SLO of this name; SLO skipped")
            continue
        try:
            SLO.model_validate(slo)
        except ValidationError as exc:
            # The shared translator's words; the converted SLO is no YAML, so no line to name.
            message = validation_problems(exc, MarkedDict(), origin, SLO)[0].message
            where = ".".join(map(str, exc.errors()[0]["loc"]))
            notes.append(f"{origin} {slo.get('name')}: {where}: {message}; SLO skipped")
            continue
        names.add(slo.get("name"))
        kept.append(slo)
    return kept


def convert_file(path: Path) -> tuple[str, list[str]]:
    """A Sloth or OpenSLO file as the text of an oncall SLO file, and what was not carried over."""
    try:
        docs = [plain(d) for d in load_marked_all(path) if d is not None]
    except Problem as problem:
        raise SLOImportError(str(problem)) from None
    if not docs:
        raise SLOImportError(f"{path}: empty file; expected a Sloth or OpenSLO document")
    slos, notes = convert_documents(docs, str(path))
    if not slos:
        detail = "; ".join(notes[:3]) or "nothing to convert"
        raise SLOImportError(f"{path}: no SLO could be converted ({detail})")
    header = f"# converted from {path.name} by `oncall slo import`\n"
    return header + yaml.safe_dump({"slos": slos}, sort_keys=False, allow_unicode=True), notes
