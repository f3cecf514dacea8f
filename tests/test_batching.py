"""MicroBatcher: concurrent frames scored in one call, each caller getting exactly its own rows back.

The batching tests are deterministic: the model blocks its first call until every other request is queued, so the
rest must be scored by exactly one more call.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from services.predictor.batching import BatchUnavailable, MicroBatcher

WAIT_S = 30.0


class CountingModel:
    """Predicts ``x * 10`` and remembers the size of every call; refuses frames holding ``x == poison``.

    With ``hold_first``, the first call signals ``first_call_started`` and waits for ``release``.
    """

    def __init__(self, poison: float | None = None, hold_first: bool = False) -> None:
        self.calls: list[int] = []
        self.poison = poison
        self.first_call_started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        self._lock = threading.Lock()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with self._lock:
            self.calls.append(len(frame))
        self.first_call_started.set()
        assert self.release.wait(WAIT_S)
        if self.poison is not None and (frame["x"] == self.poison).any():
            raise ValueError("poisoned row")
        return frame["x"].to_numpy(dtype=float) * 10


def frame_of(*values: float) -> pd.DataFrame:
    return pd.DataFrame({"x": list(values)})


def make_batcher(predict, window_s: float = 0.0, max_rows: int = 10_000, timeout_s: float = WAIT_S) -> MicroBatcher:
    return MicroBatcher(predict, window_s=window_s, max_rows=max_rows, timeout_s=timeout_s)


def wait_until_queued(batcher: MicroBatcher, count: int) -> None:
    """Wait until ``count`` requests sit in the batcher's queue (its private state: the only way to know)."""
    deadline = time.monotonic() + WAIT_S
    while len(batcher._queue) < count:
        assert time.monotonic() < deadline, f"only {len(batcher._queue)} of {count} requests were queued"
        time.sleep(0.001)


def wait_until_taken(batcher: MicroBatcher) -> None:
    """Wait until the batch thread has started and emptied the queue (it is waiting for the arrival)."""
    deadline = time.monotonic() + WAIT_S
    while len(batcher._queue) or not batcher._thread:
        assert time.monotonic() < deadline, "the batch thread did not take the queued request"
        time.sleep(0.001)


def call(batcher: MicroBatcher, frame: pd.DataFrame):
    try:
        return batcher.predict(frame)
    except Exception as exc:
        return exc


def score_behind_a_held_call(batcher: MicroBatcher, model: CountingModel, frames: list[pd.DataFrame]) -> list:
    """``frames[0]`` is scored alone and held there while the others queue up; then the model is released."""
    with ThreadPoolExecutor(len(frames)) as pool:
        first: Future = pool.submit(call, batcher, frames[0])
        assert model.first_call_started.wait(WAIT_S)
        rest = [pool.submit(call, batcher, frame) for frame in frames[1:]]
        wait_until_queued(batcher, len(rest))
        model.release.set()
        return [first.result(WAIT_S)] + [future.result(WAIT_S) for future in rest]


def test_requests_queued_during_a_call_are_scored_together_and_each_gets_its_own_rows():
    model = CountingModel(hold_first=True)
    batcher = make_batcher(model.predict)
    frames = [frame_of(i, i + 0.5) for i in range(32)]
    results = score_behind_a_held_call(batcher, model, frames)
    for i, result in enumerate(results):
        assert result.tolist() == [i * 10, (i + 0.5) * 10]
    assert model.calls == [2, 62]
    batcher.close()


def test_a_batch_holds_at_most_max_rows():
    model = CountingModel(hold_first=True)
    batcher = make_batcher(model.predict, max_rows=5)
    frames = [frame_of(i, i) for i in range(7)]
    results = score_behind_a_held_call(batcher, model, frames)
    assert [r.tolist() for r in results] == [[i * 10, i * 10] for i in range(7)]
    assert model.calls == [2, 4, 4, 4]
    batcher.close()


def test_a_lone_request_is_answered_without_waiting_for_the_window():
    model = CountingModel()
    batcher = make_batcher(model.predict, window_s=WAIT_S)
    assert batcher.predict(frame_of(4)).tolist() == [40]
    assert model.calls == [1]
    batcher.close()


def test_the_batch_waits_for_a_request_still_arriving():
    model = CountingModel()
    batcher = make_batcher(model.predict, window_s=WAIT_S)
    announced, prepared = threading.Event(), threading.Event()

    def arriving_request():
        with batcher.arriving() as arrival:
            announced.set()
            assert prepared.wait(WAIT_S)
            return batcher.predict(frame_of(2), arrival)

    with ThreadPoolExecutor(2) as pool:
        second = pool.submit(arriving_request)
        assert announced.wait(WAIT_S)
        first = pool.submit(batcher.predict, frame_of(1))
        wait_until_taken(batcher)
        prepared.set()
        assert first.result(WAIT_S).tolist() == [10]
        assert second.result(WAIT_S).tolist() == [20]
    assert model.calls == [2]
    batcher.close()


def test_frames_over_max_rows_bypass_the_batch_thread():
    model = CountingModel()
    batcher = make_batcher(model.predict, max_rows=3)
    assert batcher.predict(frame_of(1, 2, 3, 4)).tolist() == [10, 20, 30, 40]
    assert model.calls == [4]
    assert batcher._thread is None


def test_a_failing_batch_is_rescored_one_by_one_so_only_the_bad_request_fails():
    model = CountingModel(poison=13, hold_first=True)
    batcher = make_batcher(model.predict)
    results = score_behind_a_held_call(batcher, model, [frame_of(i) for i in range(16)])
    for i, result in enumerate(results):
        if i == 13:
            assert isinstance(result, ValueError)
        else:
            assert result.tolist() == [i * 10]
    assert model.calls == [1, 15] + [1] * 15
    batcher.close()


def test_after_close_requests_are_scored_directly():
    model = CountingModel()
    batcher = make_batcher(model.predict)
    batcher.predict(frame_of(1))
    batcher.close()
    batcher._thread.join(WAIT_S)
    assert not batcher._thread.is_alive()
    assert batcher.predict(frame_of(2)).tolist() == [20]
    assert model.calls == [1, 1]


@pytest.mark.parametrize("wrong_length", [0, 3])
def test_a_model_returning_the_wrong_number_of_rows_fails_every_request_alone(wrong_length):
    model = CountingModel(hold_first=True)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        model.predict(frame)
        return np.zeros(wrong_length) if len(frame) > 1 else np.ones(1)

    batcher = make_batcher(predict)
    results = score_behind_a_held_call(batcher, model, [frame_of(1), frame_of(2), frame_of(3)])
    assert [r.tolist() for r in results] == [[1.0], [1.0], [1.0]]
    assert model.calls == [1, 2, 1, 1]
    batcher.close()


def test_a_request_not_answered_in_time_is_unavailable_and_the_batcher_carries_on():
    model = CountingModel(hold_first=True)
    batcher = make_batcher(model.predict, timeout_s=0.05)
    with pytest.raises(BatchUnavailable):
        batcher.predict(frame_of(1))
    assert isinstance(call(batcher, frame_of(2)), BatchUnavailable)  # still queued behind the held call
    model.release.set()
    assert batcher.predict(frame_of(3)).tolist() == [30]
    assert model.calls == [1, 1]  # the abandoned second request was never scored
    batcher.close()


class ThreadKiller(BaseException):
    """Not an ``Exception``: what would end the batch thread if it caught only those."""


def test_any_failure_of_the_batch_thread_answers_every_request_of_the_batch():
    model = CountingModel(hold_first=True)
    failed_once = []

    def predict(frame: pd.DataFrame) -> np.ndarray:
        result = model.predict(frame)
        if len(frame) > 1 and not failed_once:
            failed_once.append(True)
            raise ThreadKiller()
        return result

    batcher = make_batcher(predict)
    results = score_behind_a_held_call(batcher, model, [frame_of(i) for i in range(5)])
    assert results[0].tolist() == [0]
    assert all(isinstance(result, BatchUnavailable) for result in results[1:])
    assert batcher.predict(frame_of(7)).tolist() == [70]
    batcher.close()
