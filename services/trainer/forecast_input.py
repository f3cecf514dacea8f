"""What a forecast run will train on, worked out before it is queued: every problem with the dataset is a 422 naming
it (no date column, duplicated dates within a series, a frequency that cannot be inferred, a horizon too long for
the history, too few periods for the backtest…), and the settings the engine would infer are recorded in the run."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from services.trainer.training_input import TrainingInput
from shared import dataset_profile
from shared.domain_errors import DomainError
from shared.forecasting.panel import ForecastDataError, ForecastSpec, prepare_panel
from shared.parquet_safety import read_trusted_frame
from shared.storage import ObjectStore

COPY_CHUNK_BYTES = 1024 * 1024


class UnforecastableRequest(DomainError):
    """The dataset cannot be forecast with these settings; ``errors`` says why, per field."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("This dataset cannot be forecast with these settings.", problems)


def forecast_settings(
    training_input: TrainingInput, target: str, request: dict[str, Any], object_store: ObjectStore
) -> dict[str, Any]:
    """The run's forecast settings, with what was left to the engine worked out (the date column, the frequency,
    the horizon); ``UnforecastableRequest`` with every problem found."""
    spec = ForecastSpec(
        target=target,
        date_column=request.get("date_column"),
        series_columns=tuple(request.get("series_columns") or ()),
        horizon=request.get("horizon"),
        frequency=request.get("frequency"),
        known_future=tuple(request.get("known_future") or ()),
        backtest_windows=request["backtest_windows"],
    )
    frame = _columns(training_input, spec, object_store)
    try:
        panel = prepare_panel(frame, spec)
    except ForecastDataError as problems:
        raise UnforecastableRequest(problems.errors) from None
    return {
        "date_column": panel.date_column,
        "series_columns": list(panel.series_columns),
        "horizon": panel.horizon,
        "frequency": panel.frequency.alias,
        "known_future": list(panel.known_future),
        "backtest_windows": panel.backtest_windows,
        "holidays_country": request.get("holidays_country"),
        "series_count": int(len(panel.series)) if len(panel.series.columns) else 1,
        "filled_periods": int(panel.filled_periods),
    }


def _columns(training_input: TrainingInput, spec: ForecastSpec, object_store: ObjectStore) -> Any:
    """The dataset's columns the check needs: the named ones, or every column that may hold dates when the date
    column is to be found (dates, timestamps and text)."""
    profiled = {column["name"]: column.get("dtype", "") for column in training_input.columns}
    if spec.date_column is not None:
        wanted = [spec.date_column, spec.target, *spec.series_columns, *spec.known_future]
    else:
        may_hold_dates = [
            name for name, dtype in profiled.items() if dataset_profile.is_date(dtype) or dtype == dataset_profile.TEXT
        ]
        wanted = [spec.target, *spec.series_columns, *spec.known_future, *may_hold_dates]
    columns = [name for name in dict.fromkeys(wanted) if name in profiled]
    with (
        tempfile.TemporaryFile() as copy
    ):  # parquet is read from its end: a seekable copy, not the whole file in memory
        with object_store.open(training_input.object_key) as stream:
            shutil.copyfileobj(stream, copy, COPY_CHUNK_BYTES)
        copy.seek(0)
        return read_trusted_frame(copy, columns=columns)
