"""`oncall compact`: compact the samples of closed days and rewrite the store file."""

from __future__ import annotations

import argparse

from console.cli.context import Context, add_format
from console.core.output import dumps


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compact",
        help="compress closed days of samples and give free space back to the disk",
        description="Rewrite every sample before today (UTC) compacted: sorted "
        "by series and time so it compresses, and rewrite the store file so the space of "
        "deleted rows goes back to the disk. Safe to interrupt: the store is either the old "
        "file or the new one, whole. The process that holds the store does it after each "
        "day closes.",
    )
    parser.add_argument("--store", help="store file (default: the workspace's)")
    add_format(parser)
    parser.set_defaults(func=run)


def run(ctx: Context) -> int:
    from console.store.compact import compact, compact_in_place

    store = ctx.write_store()
    if ctx.shared_store is not None:  # sent to the process that holds the store: its threads read it
        moved = compact_in_place(store, ctx.now())
        text = (
            f"{store.path}: {moved:,} samples of closed days compacted in place by the process that "
            "holds the store; the file gives space back at an `oncall compact` while no process holds it"
        )
        ctx.out(dumps({"store": str(store.path), "compacted_in_place": moved}) if ctx.fmt == "json" else text)
        return 0
    result = compact(store, ctx.now())
    report = {
        "store": str(result.path),
        "bytes_before": result.bytes_before,
        "bytes_after": result.bytes_after,
        "cold_samples": result.cold_samples,
        "hot_samples": result.hot_samples,
        "cold_before": result.cold_before.isoformat() if result.cold_before else None,
        "bytes_per_sample": round(result.bytes_after / result.samples, 3) if result.samples else None,
    }
    if ctx.fmt == "json":
        ctx.out(dumps(report))
        return 0
    per = f", {report['bytes_per_sample']} bytes per sample" if result.samples else ""
    ctx.out(
        f"{result.path}: {_size(result.bytes_before)} -> {_size(result.bytes_after)}{per}; "
        f"{result.cold_samples:,} samples before {report['cold_before']} compacted, "
        f"{result.hot_samples:,} after it as they came"
    )
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB"
