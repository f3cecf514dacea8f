"""One training per fresh process: the worker's side (``TrainingProcess``) and the process's own (its main).

PyCaret is not safe to run twice in one process (it redirects stdout at the file-descriptor level and shares one
logger), it writes ``logs.log`` into the working directory, and its ``budget_time`` is only checked between models.
So every training runs in its own spawned process, with capped threads, its own working directory and logging path;
the parent (the worker) enforces the hard time limit and cancellation by killing the process group. Nothing here
touches the database or Flask: the worker writes what the process reports.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING

from services.trainer.automl import fit_best_model
from services.trainer.forecast_fit import fit_forecaster
from services.trainer.training_jobs import (
    STAGE_LOADING,
    TASK_FORECAST,
    Failure,
    Message,
    Progress,
    TrainingError,
    TrainingJob,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

THREAD_ENVIRONMENT_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def thread_environment(threads: int) -> dict[str, str]:
    """Environment variables that cap the BLAS/OpenMP thread pools of a training process."""
    return {name: str(threads) for name in THREAD_ENVIRONMENT_VARIABLES}


def load_training_data(job: TrainingJob) -> pd.DataFrame:
    from shared.parquet_safety import read_trusted_frame
    from shared.storage import ObjectNotFound, open_object_store

    store = open_object_store(job.object_store_url, job.object_store_options)
    try:
        with store.open(job.object_key) as stream:
            raw = stream.read()
    except ObjectNotFound:
        raise TrainingError("the dataset file is no longer stored; upload the dataset again") from None
    return read_trusted_frame(io.BytesIO(raw))


def training_process_main(work_dir: str, threads: int, jobs: Connection, sender: Connection, parent_pid: int) -> None:
    """Entry point of the spawned process: import PyCaret, wait for one job on ``jobs``, train it, and send its
    messages to the parent through ``sender``."""
    os.setpgid(0, 0)
    _exit_with_parent(parent_pid)
    os.chdir(work_dir)
    os.environ.update(thread_environment(threads))
    os.environ["PYCARET_CUSTOM_LOGGING_PATH"] = str(Path(work_dir) / "pycaret.log")
    os.environ["PYCARET_CUSTOM_LOGGING_LEVEL"] = "WARNING"
    logging.basicConfig(level=logging.INFO, format="training process: %(levelname)s %(message)s")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import pycaret.regression  # noqa: F401  (the slow import, done while the worker waits for a run)

        job = jobs.recv()
    except EOFError:
        return  # the worker stopped before it had a run for this process
    finally:
        jobs.close()
    _train(job, sender)


def _train(job: TrainingJob, sender: Connection) -> None:
    def report(stage: str, fraction: float) -> None:
        sender.send(Progress(stage, fraction))

    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=job.threads):
            report(STAGE_LOADING, 0.01)
            data = load_training_data(job)
            if job.task == TASK_FORECAST:
                result = fit_forecaster(job, data, report)
            else:
                _, result = fit_best_model(job, data, report)
        sender.send(result)
    except TrainingError as exc:
        sender.send(Failure(str(exc)))
    except MemoryError:
        log.exception("run %s ran out of memory", job.run_id)
        sender.send(Failure("the training ran out of memory; try fewer or lighter models, or a smaller dataset"))
    except Exception as exc:
        log.exception("run %s failed", job.run_id)
        sender.send(
            Failure(
                f"the training failed unexpectedly ({type(exc).__name__}); try other models or check the dataset's "
                "columns, and contact support if it keeps failing"
            )
        )
    finally:
        sender.close()


def _exit_with_parent(parent_pid: int) -> None:
    """Kill this process group when the worker that started it is gone (e.g. SIGKILLed): no orphan trainings."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class TrainingProcess:
    """A spawned training process, started ahead of its job so that it imports PyCaret while the worker is idle.

    ``start()`` spawns it in ``work_dir`` (its working directory and log path, made by the caller); ``run(job)`` gives
    it its one job; ``messages()`` is what it reports.
    """

    def __init__(self, work_dir: str, threads: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.work_dir = work_dir
        self._receiver, sender = context.Pipe(duplex=False)
        jobs, self._job_sender = context.Pipe(duplex=False)
        self._child_ends: list[Connection] = [sender, jobs]
        self.process = context.Process(
            target=training_process_main, args=(work_dir, threads, jobs, sender, os.getpid()), name="training"
        )
        self._closed = False

    def start(self) -> None:
        self.process.start()
        for end in self._child_ends:
            end.close()  # the parent's copies; EOF on the receiver then means the process is gone
        self._child_ends = []

    def run(self, job: TrainingJob) -> None:
        self._job_sender.send(job)
        self._job_sender.close()

    def messages(self, timeout: float) -> Iterator[Message]:
        """What the process sent, waiting at most ``timeout`` seconds for the first message."""
        if self._closed:
            time.sleep(timeout)
            return
        if not wait([self._receiver], timeout):
            return
        while not self._closed and self._receiver.poll():
            try:
                yield self._receiver.recv()
            except (EOFError, OSError):
                self._closed = True

    @property
    def ended(self) -> bool:
        """The process closed its end (finished or died) and has exited."""
        return self._closed and not self.process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        """SIGKILL the training and anything it started (its own process group), then reap it."""
        if self.process.pid is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.process.kill()
        self.process.join(10)
        self._close()

    def join(self, timeout: float) -> None:
        self.process.join(timeout)
        self._close()

    def _close(self) -> None:
        self._job_sender.close()
        self._receiver.close()
        self._closed = True
