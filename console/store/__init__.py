"""The local DuckDB store every collector writes to and every screen reads."""

from console.store.db import Store, StoreError, StoreLocked, StoreMissing
from console.store.ingest import canonical_labels, ingest_logs, ingest_samples

__all__ = [
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreMissing",
    "canonical_labels",
    "ingest_logs",
    "ingest_samples",
]
