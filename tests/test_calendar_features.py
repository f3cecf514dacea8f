"""Calendar features of a regression task's date column: the ISO week PyCaret 3.3.2 cannot ask pandas 2 for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.data import sales_frame
from services.trainer.automl import prepare_data, setup_options
from shared.calendar_features import WeekOfYear, iso_week


def test_iso_week_is_pandas_isocalendar_week_across_year_boundaries():
    days = pd.Series(pd.date_range("1999-12-20", "2032-01-10", freq="D"))
    expected = days.dt.isocalendar().week.to_numpy(dtype="float64")
    assert np.array_equal(iso_week(days.to_numpy()), expected)
    assert iso_week(np.array(["2020-12-31", "2021-01-03", "2021-01-04"], dtype="datetime64[ns]")).tolist() == [
        53.0,
        53.0,
        1.0,
    ]


def test_week_of_year_is_added_beside_each_date_column_and_missing_dates_stay_missing():
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-11-25", None]), "price": [1.0, 2.0]})
    transformed = WeekOfYear(["day"]).fit_transform(frame)
    assert transformed.columns.tolist() == ["day", "day_week_of_year", "price"]
    assert transformed["day_week_of_year"].iloc[0] == 48.0 and np.isnan(transformed["day_week_of_year"].iloc[1])
    assert frame.columns.tolist() == ["day", "price"]  # the caller's frame is left alone


def test_a_date_column_gives_calendar_features_and_time_ordered_validation():
    frame = sales_frame(40, with_dates=True)
    frame["day"] = frame["day"].dt.strftime("%Y-%m-%d")  # ISO text reads as dates, as the predictor reads it
    prepared, order_by = prepare_data(frame, "sales", 0.3)
    assert order_by == "day" and pd.api.types.is_datetime64_any_dtype(prepared["day"])
    options = setup_options(prepared, "sales", order_by, [])
    assert options["fold_strategy"] == "timeseries" and options["data_split_shuffle"] is False
    assert {"dayofweek", "dayofyear", "quarter"} <= set(options["create_date_columns"])
    [(name, step)] = options["custom_pipeline"]
    assert name == "week_of_year" and step.columns == ["day"]
    assert setup_options(prepared.drop(columns="day"), "sales", None, []) == {}


def test_text_that_is_not_all_dates_stays_text():
    frame = sales_frame(40)
    frame["note"] = ["2024-01-01"] * 39 + ["soon"]
    prepared, _ = prepare_data(frame, "sales", 0.3)
    assert prepared["note"].dtype == object
