"""Micro-batching: concurrent requests for one model are scored by ONE pipeline call.

A PyCaret pipeline costs about the same per call whatever the row count (its transformer wrappers dominate), so
gathering the rows of requests that arrive within a few milliseconds multiplies throughput. Each request waits at
most the window after the first request of its batch arrived, and gets back exactly its own rows' predictions.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

PredictFunction = Callable[[pd.DataFrame], np.ndarray]

_STOP = object()


@dataclass
class _Pending:
    frame: pd.DataFrame
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """One background thread that gathers submitted frames for ``window_s`` (or ``max_rows``) and scores them once."""

    def __init__(self, predict: PredictFunction, window_s: float, max_rows: int, name: str = "model") -> None:
        self._predict = predict
        self._window_s = window_s
        self._max_rows = max_rows
        self._name = name
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        self.requests = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The predictions for ``frame``'s rows; frames over ``max_rows`` (or after ``close``) are scored alone."""
        if len(frame) > self._max_rows:
            return self._predict(frame)
        pending = _Pending(frame)
        with self._lock:
            if self._closed:
                return self._predict(frame)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"batcher-{self._name}", daemon=True)
                self._thread.start()
            self._queue.put(pending)
        return pending.future.result()

    def close(self) -> None:
        """Stop the thread after it has answered everything already submitted."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._thread is not None:
                self._queue.put(_STOP)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._gather(first)
            self._score(batch)
            if stop:
                return

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        batch = [first]
        rows = len(first.frame)
        deadline = time.monotonic() + self._window_s
        while rows < self._max_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
            rows += len(item.frame)
        return batch, False

    def _score(self, batch: list[_Pending]) -> None:
        self.batches += 1
        self.requests += len(batch)
        if len(batch) == 1:
            self._score_alone(batch[0])
            return
        try:
            combined = pd.concat([pending.frame for pending in batch], ignore_index=True, copy=False)
            predictions = np.asarray(self._predict(combined))
            if len(predictions) != len(combined):
                raise ValueError(f"the model returned {len(predictions)} predictions for {len(combined)} rows")
        except Exception:
            log.warning("a batch of %d requests failed for %s; scoring them one by one", len(batch), self._name)
            for pending in batch:
                self._score_alone(pending)
            return
        offset = 0
        for pending in batch:
            rows = len(pending.frame)
            pending.future.set_result(predictions[offset : offset + rows])
            offset += rows

    def _score_alone(self, pending: _Pending) -> None:
        try:
            pending.future.set_result(np.asarray(self._predict(pending.frame)))
        except Exception as exc:
            pending.future.set_exception(exc)
