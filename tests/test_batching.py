"""MicroBatcher: concurrent frames scored in one call, each caller getting exactly its own rows back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from services.predictor.batching import MicroBatcher


class CountingModel:
    """Predicts ``x * 10`` and remembers the size of every call; refuses frames holding ``x == poison``."""

    def __init__(self, poison: float | None = None) -> None:
        self.calls: list[int] = []
        self.poison = poison
        self._lock = threading.Lock()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with self._lock:
            self.calls.append(len(frame))
        if self.poison is not None and (frame["x"] == self.poison).any():
            raise ValueError("poisoned row")
        return frame["x"].to_numpy(dtype=float) * 10


def frame_of(*values: float) -> pd.DataFrame:
    return pd.DataFrame({"x": list(values)})


def submit_together(batcher: MicroBatcher, frames: list[pd.DataFrame]) -> list:
    barrier = threading.Barrier(len(frames))

    def call(frame: pd.DataFrame):
        barrier.wait()
        try:
            return batcher.predict(frame)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(frames)) as pool:
        return list(pool.map(call, frames))


def test_concurrent_requests_are_gathered_and_each_gets_its_own_rows():
    model = CountingModel()
    batcher = MicroBatcher(model.predict, window_s=0.2, max_rows=10_000)
    frames = [frame_of(i, i + 0.5) for i in range(32)]
    results = submit_together(batcher, frames)
    for i, result in enumerate(results):
        assert result.tolist() == [i * 10, (i + 0.5) * 10]
    assert sum(model.calls) == 64
    assert len(model.calls) < 32
    assert batcher.requests == 32 and batcher.batches == len(model.calls)
    batcher.close()


def test_a_lone_request_is_answered():
    model = CountingModel()
    batcher = MicroBatcher(model.predict, window_s=0.001, max_rows=100)
    assert batcher.predict(frame_of(4)).tolist() == [40]
    assert model.calls == [1]
    batcher.close()


def test_frames_over_max_rows_bypass_the_batch_thread():
    model = CountingModel()
    batcher = MicroBatcher(model.predict, window_s=0.001, max_rows=3)
    assert batcher.predict(frame_of(1, 2, 3, 4)).tolist() == [10, 20, 30, 40]
    assert batcher.batches == 0 and model.calls == [4]


def test_a_failing_batch_is_rescored_one_by_one_so_only_the_bad_request_fails():
    model = CountingModel(poison=13)
    batcher = MicroBatcher(model.predict, window_s=0.2, max_rows=10_000)
    frames = [frame_of(i) for i in range(16)]
    results = submit_together(batcher, frames)
    for i, result in enumerate(results):
        if i == 13:
            assert isinstance(result, ValueError)
        else:
            assert result.tolist() == [i * 10]
    batcher.close()


def test_after_close_requests_are_scored_directly():
    model = CountingModel()
    batcher = MicroBatcher(model.predict, window_s=0.001, max_rows=100)
    batcher.predict(frame_of(1))
    batcher.close()
    assert batcher.predict(frame_of(2)).tolist() == [20]
    assert batcher.batches == 1


@pytest.mark.parametrize("wrong_length", [0, 3])
def test_a_model_returning_the_wrong_number_of_rows_fails_every_request_alone(wrong_length):
    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(wrong_length) if len(frame) > 1 else np.ones(1)

    batcher = MicroBatcher(predict, window_s=0.2, max_rows=100)
    results = submit_together(batcher, [frame_of(1), frame_of(2)])
    assert [r.tolist() for r in results] == [[1.0], [1.0]]
    batcher.close()
