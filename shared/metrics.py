"""Prometheus metrics: the request metrics every app keeps, and how a process group's metrics are exposed.

Each app counts and times its requests by method, route and status (``<service>_http_requests_total``,
``<service>_http_request_duration_seconds``); a service keeps its own domain metrics in its ``metrics`` module.
Labels take bounded values only: the route is the URL rule a request matched
(``/api/v1/projects/<int(max=2147483647):project_id>/predict``), never its path, and every request no rule matched
is counted under ``UNMATCHED_ROUTE``.

Under gunicorn, with ``PROMETHEUS_MULTIPROC_DIR`` naming a folder of that server's own, each process writes its
samples to files there (prometheus_client's multiprocess mode) and ``/metrics`` adds up every process's, whichever
process answers; ``gunicorn.conf.py`` empties the folder when the server starts and forgets a dead worker's live
gauges. Without the variable (an app made in a test, the training worker) a process shows its own metrics.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_wsgi_server,
)
from prometheus_client.registry import Collector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"
# Any other method a client sends is counted as "other": a label never takes a value a client makes up.
COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds, from a health check to a dataset upload (profiled before it is answered).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
REQUEST_LABELS = ("method", "route", "status")

RouteLabel = Callable[[], str]

_request_metrics: dict[str, tuple[Counter, Histogram]] = {}


def _request_metrics_of(service: str) -> tuple[Counter, Histogram]:
    """The service's request counter and latency histogram, made once per process (every app of the service that a
    test makes shares them)."""
    if service not in _request_metrics:
        _request_metrics[service] = (
            Counter(f"{service}_http_requests", "HTTP requests answered, by method, route and status.", REQUEST_LABELS),
            Histogram(
                f"{service}_http_request_duration_seconds",
                "Seconds from a request's arrival to the start of its answer (a streamed body goes on after), by "
                "method, route and status.",
                REQUEST_LABELS,
                buckets=LATENCY_BUCKETS,
            ),
        )
    return _request_metrics[service]


def url_rule_route() -> str:
    """The URL rule the request matched, or ``UNMATCHED_ROUTE``."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def init_request_metrics(app: Flask, service: str, route_label: RouteLabel = url_rule_route) -> None:
    """Count and time every answer of ``app``; ``route_label`` names the route of the current request. The clock is
    the one ``shared.logs.init_request_logging`` starts: call that first, before any other ``before_request`` is
    registered, so it starts even when another one answers early."""
    requests_total, durations = _request_metrics_of(service)

    @app.after_request
    def _count(response: Response) -> Response:
        method = request.method if request.method in COUNTED_METHODS else "other"
        labels = (method, route_label(), str(response.status_code))
        requests_total.labels(*labels).inc()
        durations.labels(*labels).observe(time.perf_counter() - g.request_started)
        return response


def metrics_registry(collectors: Iterable[Collector] = ()) -> CollectorRegistry:
    """What ``/metrics`` shows: every process of this server (multiprocess mode) or this process, and ``collectors``
    (metrics read when scraped, such as the trainer's queue depth)."""
    registry = CollectorRegistry()
    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if directory:
        multiprocess.MultiProcessCollector(registry, directory)
    else:
        registry.register(REGISTRY)  # a registry is a collector too: this process's metrics, collected when scraped
    for collector in collectors:
        registry.register(collector)
    return registry


def metrics_response(collectors: Iterable[Collector] = ()) -> Response:
    """The metrics in Prometheus' text format."""
    return Response(generate_latest(metrics_registry(collectors)), content_type=CONTENT_TYPE_LATEST)


def make_metrics_blueprint(collectors: Iterable[Collector] = ()) -> Blueprint:
    """``GET /metrics`` of a service: for the operator's Prometheus, on the internal network, without a token (like
    /health); the gateway never routes it."""
    blueprint = Blueprint("metrics", __name__)
    collectors = tuple(collectors)

    @blueprint.get("/metrics")
    def metrics() -> Response:
        return metrics_response(collectors)

    return blueprint


def start_metrics_server(address: str) -> WSGIServer:
    """Serve this process's metrics at ``host:port`` from a thread (the training worker, which has no other server)."""
    host, _, port = address.rpartition(":")
    server, _ = start_wsgi_server(int(port), host, registry=metrics_registry())
    return server


def empty_multiprocess_dir() -> None:
    """Make this server's metrics folder and remove the samples of a previous run in it (gunicorn's ``on_starting``):
    a new server counts from zero, as a single process would."""
    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for samples in path.glob("*.db"):
        samples.unlink()


def forget_process(pid: int) -> None:
    """Drop a dead process's live gauges (gunicorn's ``child_exit``); its counters and histograms stay counted."""
    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if directory:
        multiprocess.mark_process_dead(pid, directory)
