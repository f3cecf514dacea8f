"""Forecasting data: dates, frequencies, the long frame, every 422 before training, backtest windows, metrics and
intervals. No model is trained here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shared.forecasting.dates import parse_dates, parse_like_training
from shared.forecasting.frequency import FrequencyError, infer_frequency
from shared.forecasting.intervals import conformal_widths, leave_one_window_out_coverage
from shared.forecasting.metrics import mase_scale, score
from shared.forecasting.panel import ForecastDataError, ForecastSpec, forecast_problems, prepare_panel
from shared.forecasting.windows import min_history, plan_windows
from tests.helpers.datasets import real_dataset


def weekly_sales(stores: int = 3, weeks: int = 120, start: str = "2021-01-01") -> pd.DataFrame:
    dates = pd.date_range(start, periods=weeks, freq="W-FRI")
    rng = np.random.default_rng(0)
    return pd.concat(
        [
            pd.DataFrame({"store": store, "week": dates, "promo": rng.integers(0, 2, weeks), "sales": 100.0 + store})
            for store in range(stores)
        ],
        ignore_index=True,
    )


# --- dates ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (["05/02/10", "12/02/10", "19/02/10"], ["2010-02-05", "2010-02-12", "2010-02-19"]),
        (["05-02-2010", "12-02-2010", "19/02/10"], ["2010-02-05", "2010-02-12", "2010-02-19"]),
        (["2012-05-04", "2012-05-05", None], ["2012-05-04", "2012-05-05", None]),
        (["1998 Q1", "1998 Q2", "1998Q3", "Q4 1998"], ["1998-01-01", "1998-04-01", "1998-07-01", "1998-10-01"]),
        (["1987 Jan", "1987 Feb", "1987 Mar"], ["1987-01-01", "1987-02-01", "1987-03-01"]),
        (["02/13/2011", "02/14/2011"], ["2011-02-13", "2011-02-14"]),
    ],
)
def test_text_dates_parse_with_one_way_of_writing_per_column(text, expected):
    parsed = parse_dates(pd.Series(text))
    assert parsed is not None
    assert list(parsed.values) == [pd.Timestamp(e) if e else pd.NaT for e in expected]


def test_text_that_is_not_dates_and_numbers_are_not_dates():
    assert parse_dates(pd.Series(["north", "south"])) is None
    assert parse_dates(pd.Series([1, 2, 3])) is None
    assert parse_dates(pd.Series(["05/02/10", "north"])) is None


def test_timestamps_with_a_time_zone_keep_their_wall_clock_dates():
    column = pd.Series(pd.date_range("2024-01-01", periods=3, freq="D", tz="Europe/Paris"))
    assert list(parse_dates(column).values) == list(pd.date_range("2024-01-01", periods=3, freq="D"))


def test_newer_dates_are_read_like_the_training_ones_or_refused():
    formats = parse_dates(pd.Series(["05/02/10", "19/02/10"])).text_formats
    assert list(parse_like_training(pd.Series(["26/02/10"]), formats)) == [pd.Timestamp("2010-02-26")]
    with pytest.raises(ValueError, match="2010-02-26"):
        parse_like_training(pd.Series(["2010-02-26"]), formats)


# --- frequency -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dates", "alias"),
    [
        (pd.date_range("2020-01-01", periods=30, freq="D").delete([3, 4, 10]), "D"),
        (pd.date_range("2010-02-05", periods=20, freq="W-FRI"), "W-FRI"),
        (pd.date_range("2010-02-07", periods=20, freq="W-SUN").delete([5]), "W-SUN"),
        (pd.date_range("2010-01-01", periods=20, freq="MS"), "MS"),
        (pd.date_range("2010-01-31", periods=20, freq="M"), "M"),
        (pd.date_range("1998-01-01", periods=20, freq="QS"), "QS"),
        (pd.date_range("1998-03-31", periods=20, freq="Q"), "Q"),
        (pd.date_range("1990-01-01", periods=20, freq="YS"), "YS"),
        (pd.date_range("1990-12-31", periods=20, freq="Y"), "Y"),
    ],
)
def test_frequency_is_inferred_with_its_anchor(dates, alias):
    assert infer_frequency([dates.values]).alias == alias


@pytest.mark.parametrize(
    ("dates", "problem"),
    [
        (pd.DatetimeIndex(["2020-01-03", "2020-01-10", "2020-01-18"]), "different weekdays"),
        (pd.date_range("2020-01-01", periods=5, freq="h"), "times of day"),
        (pd.date_range("2010-01-15", periods=5, freq="MS") + pd.Timedelta(days=14), "first .or all on the last. day"),
        (pd.DatetimeIndex(["2020-01-01", "2020-01-04", "2020-01-07"]), "3 days apart"),
    ],
)
def test_a_frequency_that_cannot_be_inferred_says_why(dates, problem):
    with pytest.raises(FrequencyError, match=problem):
        infer_frequency([dates.values])


# --- the long frame ------------------------------------------------------------------------------------------------


def test_missing_days_are_filled_with_zero_and_every_series_ends_on_the_last_date():
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    frame = pd.DataFrame(
        {
            "item": ["a"] * 60 + ["b"] * 50,
            "day": list(days) + list(days[:50]),
            "qty": [1.0] * 110,
        }
    ).drop(index=[5, 6, 7])  # item a sold nothing on three days
    panel = prepare_panel(frame, ForecastSpec("qty", series_columns=("item",)))
    assert panel.frequency.alias == "D"
    assert panel.frame.groupby("unique_id")["ds"].max().tolist() == [days[-1], days[-1]]
    a = panel.frame[panel.frame["unique_id"] == 0]
    assert a["y"].tolist()[5:8] == [0.0, 0.0, 0.0]
    assert panel.filled_periods == 3 + 10
    assert panel.series["item"].tolist() == ["a", "b"]


def test_missing_periods_can_carry_the_previous_value_instead():
    frame = weekly_sales(stores=1, weeks=60).drop(index=[10])
    frame.loc[9, "sales"] = 7.0
    panel = prepare_panel(frame, ForecastSpec("sales", missing_periods="previous", series_columns=("store",)))
    assert panel.frame["y"].iloc[10] == 7.0


def test_the_default_horizon_follows_the_frequency():
    assert prepare_panel(weekly_sales(), ForecastSpec("sales", series_columns=("store",))).horizon == 13
    monthly = pd.DataFrame({"m": pd.date_range("2015-01-01", periods=60, freq="MS"), "v": np.arange(60.0)})
    assert prepare_panel(monthly, ForecastSpec("v")).horizon == 12


def test_only_the_named_columns_reach_the_long_frame():
    frame = weekly_sales().assign(temperature=1.0)
    panel = prepare_panel(frame, ForecastSpec("sales", series_columns=("store",), known_future=("promo",)))
    assert list(panel.frame.columns) == ["unique_id", "ds", "y", "promo"]


# --- every problem that is a 422 before training ---------------------------------------------------------------------


def problems_of(frame: pd.DataFrame, **spec) -> dict[str, list[str]]:
    return forecast_problems(frame, ForecastSpec(**{"target": "sales", "series_columns": ("store",), **spec}))


def test_a_good_request_has_no_problem():
    assert problems_of(weekly_sales(), known_future=("promo",)) == {}


def test_no_date_column():
    (message,) = problems_of(weekly_sales().drop(columns="week"))["date_column"]
    assert "no column holds dates" in message


def test_several_date_columns_and_none_named():
    frame = weekly_sales().assign(opened=pd.Timestamp("2020-01-01"))
    (message,) = problems_of(frame)["date_column"]
    assert "`week`, `opened`" in message
    assert problems_of(frame, date_column="week") == {}


def test_a_named_date_column_that_holds_no_dates():
    (message,) = problems_of(weekly_sales().assign(week="soon"), date_column="week")["date_column"]
    assert "does not hold dates" in message and "soon" in message


def test_duplicated_dates_name_an_example_series_and_date():
    frame = weekly_sales()
    frame = pd.concat([frame, frame.iloc[[125]]], ignore_index=True)
    (message,) = problems_of(frame)["date_column"]
    assert "store=1" in message and str(frame.loc[125, "week"].date()) in message


def test_duplicated_dates_of_one_series_without_series_columns():
    (message,) = problems_of(weekly_sales(), series_columns=())["date_column"]
    assert "the series has more than one row dated" in message


def test_a_frequency_that_cannot_be_inferred():
    frame = weekly_sales()
    frame.loc[3, "week"] += pd.Timedelta(days=1)
    (message,) = problems_of(frame)["frequency"]
    assert "6 days apart" in message


def test_a_named_frequency_the_dates_are_not_on():
    (message,) = problems_of(weekly_sales(), frequency="MS")["frequency"]
    assert "not on the `MS` grid" in message


def test_a_horizon_longer_than_the_history_allows():
    (message,) = problems_of(weekly_sales(weeks=40), horizon=30)["horizon"]
    assert "longer than the history allows" in message and "at most 20" in message


def test_too_few_periods_per_series_for_the_backtest():
    (message,) = problems_of(weekly_sales(weeks=60), horizon=26, backtest_windows=10)["backtest_windows"]
    assert "too few periods per series for the backtest" in message and "store=0 has 60 periods" in message


def test_known_future_columns_missing_or_not_numeric():
    frame = weekly_sales().assign(note="x")
    messages = problems_of(frame, known_future=("price", "note"))["known_future"]
    assert any("`price` is not in the dataset" in m for m in messages)
    assert any("`note` is not numeric" in m for m in messages)


def test_series_columns_missing():
    (message,) = problems_of(weekly_sales(), series_columns=("store", "region"))["series_columns"]
    assert "`region` is not in the dataset" in message


def test_target_missing_or_not_numeric():
    assert "not in the dataset" in problems_of(weekly_sales(), target="revenue")["target"][0]
    assert "not numeric" in problems_of(weekly_sales().assign(sales="many"))["target"][0]


def test_prepare_panel_raises_every_problem_by_field():
    with pytest.raises(ForecastDataError) as raised:
        prepare_panel(weekly_sales(), ForecastSpec("revenue", series_columns=("region",)))
    assert set(raised.value.errors) == {"target", "series_columns"}


def test_walmart_dates_are_day_first_weeks_ending_on_friday():
    frame = pd.read_csv(real_dataset("walmart_45stores_weekly.csv"))
    panel = prepare_panel(frame, ForecastSpec("Weekly_Sales", series_columns=("Store",)))
    assert panel.frequency.alias == "W-FRI"
    assert panel.frame["ds"].min() == pd.Timestamp("2010-02-05")
    assert len(panel.series) == 45 and panel.filled_periods == 0


# --- backtest windows ----------------------------------------------------------------------------------------------


def test_windows_leave_two_seasons_and_step_by_less_than_the_horizon_when_they_must():
    windows = plan_windows(shortest=143, horizon=26, windows=3, season_length=52)
    assert [w.periods_after_origin for w in windows] == [38, 32, 26]
    assert all(143 - w.periods_after_origin >= 104 for w in windows)
    assert all(w.scored_steps == 26 for w in windows)


def test_windows_step_by_the_horizon_when_there_is_room():
    windows = plan_windows(shortest=269, horizon=24, windows=3, season_length=12)
    assert [w.periods_after_origin for w in windows] == [72, 48, 24]


def test_windows_are_cut_short_rather_than_leave_less_than_two_seasons():
    windows = plan_windows(shortest=117, horizon=26, windows=3, season_length=52)
    assert min_history(117, 26, 3, 52) == 104
    assert [(w.periods_after_origin, w.scored_steps) for w in windows] == [(13, 13), (10, 10), (7, 7)]


def test_without_two_seasons_windows_leave_one_season_and_a_period():
    windows = plan_windows(shortest=80, horizon=13, windows=3, season_length=52)
    assert all(80 - w.periods_after_origin >= 53 for w in windows)


# --- metrics and intervals -----------------------------------------------------------------------------------------


def test_mase_scale_falls_back_to_naive_then_to_none():
    assert mase_scale(np.array([1.0, 2, 1, 2, 1, 2]), season_length=2) == 1.0  # seasonal naive is exact
    assert np.isnan(mase_scale(np.array([5.0, 5, 5, 5]), season_length=2))


def test_score_leaves_series_without_a_scale_out_of_mase_only():
    points = pd.DataFrame(
        {
            "unique_id": [0, 0, 1, 1],
            "y": [10.0, 10, 0, 0],
            "forecast": [12.0, 8, 1, 1],
            "scale": [2.0, 2, np.nan, np.nan],
        }
    )
    scores = score(points)
    assert scores["MASE"] == 1.0
    assert scores["MAE"] == 1.5
    assert scores["WAPE"] == pytest.approx(6 / 20)
    assert scores["SMAPE"] == pytest.approx((2 * 2 / 22 + 2 * 2 / 18 + 2 + 2) / 4)


def test_interval_widths_never_shrink_with_the_horizon_and_borrow_for_unseen_steps():
    rng = np.random.default_rng(0)
    steps = np.repeat(np.arange(1, 6), 200)
    errors = np.abs(rng.normal(0, 1, len(steps))) * np.sqrt(steps)
    widths = conformal_widths(steps, errors, horizon=8)
    assert all(np.diff(widths[80]) >= 0) and all(np.diff(widths[95]) >= 0)
    assert widths[95][0] > widths[80][0]
    assert widths[80][7] > widths[80][4]  # steps 6-8 were never backtested: borrowed, rescaled


def test_coverage_is_measured_on_windows_the_intervals_were_not_calibrated_on():
    rng = np.random.default_rng(1)
    windows = np.repeat([0, 1, 2], 300)
    steps = np.tile(np.arange(1, 4), 300)
    errors = np.abs(rng.normal(0, 1, 900))
    errors[windows == 2] *= 10  # a window far worse than the others is mostly outside their intervals
    coverage = leave_one_window_out_coverage(windows, steps, errors, horizon=3)
    assert coverage[80] < 0.75
    assert leave_one_window_out_coverage(np.zeros(5, int), np.ones(5, int), np.ones(5), 1) == {80: None, 95: None}
