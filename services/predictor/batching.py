"""Micro-batching: concurrent requests for one model are scored by ONE pipeline call.

A PyCaret pipeline costs about the same per call whatever the row count (its transformer wrappers dominate), so
scoring the rows of concurrent requests together multiplies throughput. The batching is natural: one thread scores
everything queued at once, and what arrives while it scores forms the next batch. A lone request is scored at once;
the thread waits (at most ``window_s``) only while other requests are known to be on their way (``arriving``).
Each request gets back exactly its own rows' predictions, or an error within ``timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shared.domain_errors import DomainError

log = logging.getLogger(__name__)

PredictFunction = Callable[[pd.DataFrame], np.ndarray]


class BatchUnavailable(DomainError):
    """The batch thread did not answer in time, or failed as a whole: nothing is wrong with the request itself."""


@dataclass
class Arrival:
    """A request announced by ``MicroBatcher.arriving``; done once its frame is queued (or it gave up)."""

    done: bool = False


@dataclass
class _Pending:
    frame: pd.DataFrame
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """One background thread that scores every queued frame in one call, each caller getting its own rows back."""

    def __init__(
        self, predict: PredictFunction, window_s: float, max_rows: int, timeout_s: float, name: str = "model"
    ) -> None:
        self._predict = predict
        self._window_s = window_s
        self._max_rows = max_rows
        self._timeout_s = timeout_s
        self._name = name
        self._condition = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._arriving = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextmanager
    def arriving(self) -> Iterator[Arrival]:
        """Around preparing a request's rows, then ``predict(frame, arrival)``: the batch thread may wait for them."""
        arrival = Arrival()
        with self._condition:
            self._arriving += 1
        try:
            yield arrival
        finally:
            with self._condition:
                self._arrived(arrival)

    def predict(self, frame: pd.DataFrame, arrival: Arrival | None = None) -> np.ndarray:
        """The predictions for ``frame``'s rows; frames over ``max_rows`` (or after ``close``) are scored alone."""
        pending = _Pending(frame)
        with self._condition:
            if arrival is not None:
                self._arrived(arrival)
            alone = self._closed or len(frame) > self._max_rows
            if not alone:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=f"batcher-{self._name}", daemon=True)
                    self._thread.start()
                self._queue.append(pending)
                self._condition.notify_all()
        if alone:
            return self._predict(frame)
        try:
            return pending.future.result(timeout=self._timeout_s)
        except FutureTimeout:
            pending.future.cancel()  # if the thread has not taken it yet, it never will
            raise BatchUnavailable(
                f"The prediction could not be made now (no answer from the batch thread within {self._timeout_s:g} s);"
                " retry shortly."
            ) from None

    def _arrived(self, arrival: Arrival) -> None:
        if not arrival.done:
            arrival.done = True
            self._arriving -= 1
            self._condition.notify_all()

    def close(self) -> None:
        """Stop the thread after it has answered everything already submitted."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                return
            try:
                self._score(batch)
            except BaseException as exc:  # whatever it was, no caller may be left waiting
                log.exception("the batch thread of %s failed", self._name)
                failure = BatchUnavailable(
                    f"The prediction could not be made now (the batch failed as a whole: {type(exc).__name__}); "
                    "retry shortly."
                )
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(failure)

    def _next_batch(self) -> list[_Pending]:
        """Everything queued (up to ``max_rows``), after waiting for announced arrivals; empty once closed and idle."""
        with self._condition:
            batch: list[_Pending] = []
            rows = 0
            while not batch:
                while not self._queue and not self._closed:
                    self._condition.wait()
                if not self._queue:
                    return batch
                batch, rows = self._take(batch, rows)
            deadline = time.monotonic() + self._window_s
            while self._arriving and rows < self._max_rows and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
                batch, rows = self._take(batch, rows)
            return batch

    def _take(self, batch: list[_Pending], rows: int) -> tuple[list[_Pending], int]:
        while self._queue and (not batch or rows + len(self._queue[0].frame) <= self._max_rows):
            pending = self._queue.popleft()
            if pending.future.set_running_or_notify_cancel():  # False: its caller gave up waiting
                batch.append(pending)
                rows += len(pending.frame)
        return batch, rows

    def _score(self, batch: list[_Pending]) -> None:
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
