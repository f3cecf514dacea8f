"""Timing primitives: latency percentiles of repeated calls and the throughput of concurrent clients.

Every loop is bounded by a count and, for concurrent clients, by a wall-clock limit too.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.load import KeptAliveClient


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    count: int


def latency_of(call: Callable[[], object], count: int, warmup: int = 3) -> Latency:
    """p50/p99 of ``count`` sequential calls, after ``warmup`` calls that are not counted."""
    return interleaved_latencies({"call": call}, count, warmup)["call"]


def interleaved_latencies(calls: dict[str, Callable[[], object]], count: int, warmup: int = 3) -> dict[str, Latency]:
    """p50/p99 of each call, the calls taking turns (a, b, c, a, b, c, ...) so a change in the machine's load
    during the measurement weighs on all of them alike."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - started)
    return {name: _latency(values) for name, values in samples.items()}


def _latency(samples: list[float]) -> Latency:
    millis = np.asarray(samples) * 1000.0
    return Latency(float(np.percentile(millis, 50)), float(np.percentile(millis, 99)), len(samples))


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@dataclass(frozen=True)
class Throughput:
    clients: int
    requests: int
    failures: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def throughput_of(
    new_client: Callable[[], KeptAliveClient], clients: int, max_requests: int, max_seconds: float
) -> Throughput:
    """``clients`` threads, each with its own client (``new_client()``: one kept-alive connection), sending until
    ``max_requests`` are answered in all or ``max_seconds`` have passed. A client's ``send`` returns whether the
    answer was right; wrong ones count as failures and not as answered requests.

    Every client first sends one request that is not counted (connection set up, model cached), then all start
    together.
    """
    lock = threading.Lock()
    counts = {"started": 0, "answered": 0, "failed": 0}
    clock = {"started": 0.0, "deadline": 0.0}

    def start_clock() -> None:  # run by the barrier once every client is connected, before any is released
        clock["started"] = time.perf_counter()
        clock["deadline"] = clock["started"] + max_seconds

    start_together = threading.Barrier(clients + 1, action=start_clock)

    def client() -> None:
        connection = new_client()
        try:
            connection.send()
            start_together.wait()
            while time.perf_counter() < clock["deadline"]:
                with lock:
                    if counts["started"] >= max_requests:
                        return
                    counts["started"] += 1
                ok = connection.send()
                with lock:
                    counts["answered" if ok else "failed"] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, name=f"bench-client-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_together.wait()
    for thread in threads:
        thread.join(max_seconds + 120.0)
    elapsed = time.perf_counter() - clock["started"]
    return Throughput(clients, counts["answered"], counts["failed"], elapsed)
