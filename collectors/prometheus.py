"""`prometheus`: query_range against Prometheus or VictoriaMetrics into the store."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import pyarrow as pa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from collectors.base import Collector, CollectResult, SourceError, TimedOptions
from collectors.deadline import check_deadline
from collectors.http import HttpOptions, fetch, join_url, json_body, make_client
from collectors.validate import Window, sample_table
from console.config.durations import parse_duration
from console.store import canonical_labels, ingest_samples

if TYPE_CHECKING:
    from console.store import Store

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
EPOCH = datetime(1970, 1, 1)


class Query(BaseModel):
    """One expression to pull; `record` names results that carry no metric name."""

    model_config = ConfigDict(extra="forbid")

    expr: str = Field(min_length=1)
    record: str | None = None


def _as_query(value: Any) -> Any:
    return {"expr": value} if isinstance(value, str) else value


class PrometheusOptions(HttpOptions, TimedOptions):
    queries: list[Annotated[Query, BeforeValidator(_as_query)]] = Field(min_length=1)
    step: Duration = timedelta(seconds=60)
    lookback: Duration = timedelta(hours=1)
    delay: Duration = timedelta(0)  # stay this far behind now, so late scrapes have landed
    max_points: int = Field(default=10_000, ge=2, le=11_000)
    max_bytes: int = Field(default=256 << 20, gt=0)


def _seconds(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds()


def _moment(seconds: float) -> datetime:
    return EPOCH + timedelta(microseconds=round(seconds * 1_000_000))


def split_range(start: float, end: float, step: float, max_points: int) -> list[tuple[float, float]]:
    """Cut [start, end] into pieces of at most `max_points` steps each, on the step grid."""
    pieces = []
    span = step * (max_points - 1)
    while start <= end:
        piece_end = min(end, start + span)
        pieces.append((start, piece_end))
        start = piece_end + step
    return pieces


class PrometheusCollector(Collector):
    """Pulls query_range results for a list of selectors or PromQL expressions."""

    kind = "prometheus"
    Options = PrometheusOptions
    options: PrometheusOptions
    retention_kind = "samples"
    transport: httpx.BaseTransport | None = None

    def collect(self, store: Store, now: datetime) -> CollectResult:
        opts = self.options
        step = opts.step.total_seconds()
        end = math.floor((_seconds(now) - opts.delay.total_seconds()) / step) * step
        cursor = store.get_cursor(self.name) or {}
        done: dict[str, float] = dict(cursor.get("until", {}))
        url = join_url(opts.url, "api/v1/query_range")
        kept = httpx.URL(url).params  # httpx's `params=` replaces the URL's own query
        added = 0
        requests = 0
        window = self.window(now)
        with make_client(opts, self.transport, base_dir=self.base_dir) as client:
            for query in opts.queries:
                last = done.get(query.expr)
                start = (
                    last + step
                    if last is not None
                    else (math.ceil((end - opts.lookback.total_seconds()) / step) * step)
                )
                for lo, hi in split_range(start, end, step, opts.max_points):
                    response = fetch(
                        client,
                        "GET",
                        url,
                        max_bytes=opts.max_bytes,
                        params=kept.merge(
                            {"query": query.expr, "start": repr(lo), "end": repr(hi), "step": repr(step)}
                        ),
                    )
                    requests += 1
                    table = self._samples(json_body(response), query, response.url, window)
                    check_deadline(where=response.url)  # parsing counts too
                    done[query.expr] = hi
                    added += ingest_samples(store, table, cursor=(self.name, {"until": done}), now=now)
        return CollectResult(rows=added, detail={"requests": requests, "refused": self.refused.total})

    def _samples(self, body: Any, query: Query, url: str, window: Window) -> pa.Table:
        where = url
        data = _matrix(body, query, where)
        try:
            names, labels, stamps, values = _matrix_columns(data.get("result") or [], query)
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(
                f"{where}: malformed series in the answer for {query.expr!r} ({type(exc).__name__}: {exc})"
            ) from None
        return sample_table(names, labels, stamps, values, window, self.refused)


def _matrix(body: Any, query: Query, where: str) -> dict[str, Any]:
    """The `data` of a successful range query's answer; a SourceError for any other answer."""
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        raise SourceError(f"{where}: query {query.expr!r} failed: {error or 'unexpected answer'}")
    data = body.get("data") or {}
    kind = data.get("resultType") if isinstance(data, dict) else type(data).__name__
    if kind != "matrix":
        raise SourceError(f"{where}: expected a matrix for {query.expr!r}, got {kind!r}")
    return data


def _matrix_columns(result: Any, query: Query) -> tuple[list[str], list[str], list[Any], list[Any]]:
    """A matrix result's points as columns: names, canonical labels, stamps and values as
    given (sample_table checks each, as a batch)."""
    if not isinstance(result, list):
        raise TypeError(f"result is {type(result).__name__}, not a list")
    names: list[str] = []
    labels: list[str] = []
    stamps: list[Any] = []
    values: list[Any] = []
    for series in result:
        metric = dict(series["metric"])
        name = metric.pop("__name__", None) or query.record or query.expr
        points = series["values"]
        if not isinstance(points, list):
            raise TypeError(f"values is {type(points).__name__}, not a list")
        for stamp, value in points:
            stamps.append(stamp)
            values.append(value)
        names += [str(name)] * len(points)
        labels += [canonical_labels(metric)] * len(points)
    return names, labels, stamps, values
