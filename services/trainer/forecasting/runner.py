"""Where per-series work runs: here, in a few forked processes (one per thread a training may use), or on a Dask
cluster. The same module-level function gets the same chunks of series on every path, so the results are the same.

Forked processes only run statistical fits (numba and C++, no OpenMP), so forking a process that has already used
LightGBM's OpenMP pool is safe.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

CHUNKS_PER_WORKER = 4


class SeriesRunner:
    """``map(function, arguments)`` over chunks of series; ``chunks`` is how many to cut the series into."""

    def __init__(self, threads: int = 1, dask_client: Any = None) -> None:
        self.dask_client = dask_client
        self.threads = max(1, threads)
        self._pool: Executor | None = None

    @property
    def workers(self) -> int:
        if self.dask_client is not None:
            return max(1, len(self.dask_client.scheduler_info()["workers"]))
        return self.threads

    @property
    def chunks(self) -> int:
        return 1 if self.workers == 1 and self.dask_client is None else self.workers * CHUNKS_PER_WORKER

    def map(self, function: Callable[..., Any], arguments: list[tuple[Any, ...]]) -> list[Any]:
        if self.dask_client is not None:
            futures = [self.dask_client.submit(function, *args, pure=False) for args in arguments]
            return self.dask_client.gather(futures)
        if self.threads == 1 or len(arguments) == 1:
            return [function(*args) for args in arguments]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.threads, mp_context=multiprocessing.get_context("fork"))
        futures = [self._pool.submit(function, *args) for args in arguments]
        return [future.result() for future in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> SeriesRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
