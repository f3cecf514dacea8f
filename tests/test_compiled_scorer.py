"""Compiled scorers against the real PyCaret pipelines they are made from: bit-identical answers, alone and in any
batch, or no compiled scorer at all.

Pipelines are fitted the trainer's way (time-ordered folds, numbers trained as categories) on generated shop sales
with a date, text and number categories of every encoding, a flag and a column name PyCaret cleans.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from harness.data import SHOP_CATEGORIES, shop_sales_frame
from harness.pipelines import fitted_pipelines
from services.predictor.compiled_scorer import NotCompilable, compile_pipeline, verified_scorer, verify
from services.predictor.compiled_scorer.estimators import Linear
from services.predictor.compiled_scorer.scorer import CompiledScorer
from services.predictor.compiled_scorer.steps import DATE_PARTS, LOOK_UP_DISTINCT_FROM_ROWS, Calendar, Lookup
from services.predictor.input_contract import InputContract

# One model of each sklearn implementation the linear allow-list names (ElasticNet, Lars, ARD and TheilSen predict
# through the same code as Lasso, LassoLars, BayesianRidge and LinearRegression, and are checked at load).
LINEAR_MODELS = ("lr", "ridge", "lasso", "llar", "omp", "br", "huber", "par", "ransac")
TREE_MODELS = ("dt", "rf", "et", "gbr", "lightgbm")
COMPILED_MODELS = (*LINEAR_MODELS, "dummy", *TREE_MODELS)
BASE_ROW = {
    "day": "2023-03-01T00:00:00",
    "price[eur]": 5.0,
    "units": 10,
    "store": "north",
    "channel": "web",
    "sku": "sku-3",
    "holiday": False,
    "code": 7,
    "promo": 1,
    "region": 2,
}


@dataclasses.dataclass(frozen=True)
class Trained:
    pipelines: dict[str, Any]
    contract: InputContract
    features: list[dict[str, Any]]

    def scorer(self, model_id: str) -> CompiledScorer:
        return compile_pipeline(self.pipelines[model_id], self.contract)


def train(work_dir: Path, model_ids: tuple[str, ...], data: pd.DataFrame | None = None, **setup: Any) -> Trained:
    data = shop_sales_frame() if data is None else data
    pipelines, features = fitted_pipelines(data, model_ids, work_dir, categorical=SHOP_CATEGORIES, **setup)
    return Trained(pipelines, InputContract(features, "sales", max_string_length=1000), features)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Trained:
    return train(tmp_path_factory.mktemp("shop"), (*COMPILED_MODELS, "knn"))


@pytest.fixture(scope="module")
def collinear(tmp_path_factory) -> Trained:
    """A linear regression on normalized data whose one-hot columns add up to 1: coefficients near 1e14 (with the
    day, month and year parts; the weekday and day of the year happen to condition it)."""
    return train(
        tmp_path_factory.mktemp("collinear"), ("lr",), normalize=True, create_date_columns=["day", "month", "year"]
    )


def bits(values: Any) -> list[int]:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64).tolist()


def pipeline_alone(trained: Trained, model_id: str, records: list[dict[str, Any]]) -> np.ndarray:
    """``pipeline.predict`` of each row in a frame of its own, prepared as the predictor prepares it."""
    pipeline = trained.pipelines[model_id]
    return np.array(
        [pipeline.predict(trained.contract.prepare_records([record]).frame)[0] for record in records], dtype=float
    )


def hand_picked_rows(contract: InputContract) -> list[dict[str, Any]]:
    """Categories never seen in every category column, training boundaries and beyond, odd dates, fractions."""
    ranges = {feature.name: (feature.minimum, feature.maximum) for feature in contract.features}
    low, high = ranges["price[eur]"]
    return [
        BASE_ROW,
        {**BASE_ROW, "store": "west", "channel": "phone", "sku": "sku-99"},
        {**BASE_ROW, "code": 99, "promo": 5, "region": 9},
        {**BASE_ROW, "code": 7.5, "units": 10.5},
        {**BASE_ROW, "price[eur]": low, "units": int(ranges["units"][0])},
        {**BASE_ROW, "price[eur]": high, "units": int(ranges["units"][1])},
        {**BASE_ROW, "price[eur]": low - 100.0, "units": -1000},
        {**BASE_ROW, "price[eur]": high * 1000, "units": 10**6},
        {**BASE_ROW, "day": "1950-06-01T13:45:00", "holiday": True},
        {**BASE_ROW, "day": "2150-12-31T23:59:59"},
        {**BASE_ROW, "day": "2024-02-29T00:00:00", "store": "east", "channel": "shop", "code": 0, "promo": 0},
    ]


def assert_identical_to_the_pipeline(trained: Trained, model_id: str, records: list[dict[str, Any]]) -> None:
    """Each row alone, compiled and through the pipeline, bit for bit; and the rows together as each alone."""
    scorer = trained.scorer(model_id)
    expected = pipeline_alone(trained, model_id, records)
    alone = np.concatenate([scorer.predict(trained.contract.prepare_records([record]).columns) for record in records])
    assert bits(alone) == bits(expected), (alone - expected).tolist()
    together = scorer.predict(trained.contract.prepare_records(records).columns)
    assert bits(together) == bits(expected)


def test_the_shop_pipeline_has_every_step_the_trainer_makes(shop):
    steps = [name for name, _ in shop.pipelines["lr"].steps]
    assert steps == [
        "week_of_year",
        "numbers_as_categories",
        "date_feature_extractor",
        "numerical_imputer",
        "categorical_imputer",
        "ordinal_encoding",
        "onehot_encoding",
        "rest_encoding",
        "clean_column_names",
        "actual_estimator",
    ]
    encoded = {name: step.transformer.cols for name, step in shop.pipelines["lr"].steps[5:8]}
    assert encoded == {
        "ordinal_encoding": ["channel", "promo"],
        "onehot_encoding": ["store", "region"],
        "rest_encoding": ["sku", "code"],
    }


@pytest.mark.parametrize("model_id", COMPILED_MODELS)
def test_each_compiled_model_answers_exactly_as_its_pipeline(shop, model_id):
    scorer = shop.scorer(model_id)
    assert verify(scorer, shop.pipelines[model_id], shop.contract) > 50
    assert_identical_to_the_pipeline(shop, model_id, hand_picked_rows(shop.contract))


def test_unseen_categories_get_the_encoders_unseen_values(shop):
    scorer = shop.scorer("lr")
    seen = scorer.features(shop.contract.prepare_records([BASE_ROW]).columns)[0]
    unseen = scorer.features(shop.contract.prepare_records(hand_picked_rows(shop.contract)[1:3]).columns)
    columns = list(scorer.columns)
    onehot = shop.pipelines["lr"].named_steps["onehot_encoding"].transformer
    target = shop.pipelines["lr"].named_steps["rest_encoding"].transformer
    assert unseen[0, columns.index("store_north")] == 0.0 and seen[columns.index("store_north")] == 1.0
    assert unseen[0, columns.index("channel")] == -1.0
    assert unseen[0, columns.index("sku")] == target.mapping["sku"][-1]  # the target's smoothed prior
    assert unseen[1, columns.index("code")] == target.mapping["code"][-1]
    regions = [column for column in onehot.get_feature_names_out() if column.startswith("region_")]
    assert len(regions) == 5
    assert [unseen[1, columns.index(region)] for region in regions] == [0.0] * 5


def test_a_linear_model_with_huge_coefficients_answers_each_row_as_alone_in_any_batch(collinear):
    pipeline = collinear.pipelines["lr"]
    assert np.abs(pipeline.steps[-1][1].coef_).max() > 1e12
    records = shop_sales_frame(1000, seed=3).drop(columns="sales").astype({"day": str}).to_dict(orient="records")
    expected = pipeline_alone(collinear, "lr", records[:24])
    in_one_call = np.asarray(pipeline.predict(collinear.contract.prepare_records(records).frame), dtype=float)
    assert (in_one_call[:24] != expected).any(), "the pipeline itself answers these rows alike alone and batched"

    scorer = collinear.scorer("lr")
    verify(scorer, pipeline, collinear.contract)
    together = scorer.predict(collinear.contract.prepare_records(records).columns)
    assert bits(together[:24]) == bits(expected)
    alone = [scorer.predict(collinear.contract.prepare_records([record]).columns)[0] for record in records]
    assert bits(alone) == bits(together)
    order = np.random.default_rng(0).permutation(len(records))
    shuffled = scorer.predict(collinear.contract.prepare_records([records[i] for i in order]).columns)
    assert bits(shuffled) == bits(together[order])


@pytest.mark.parametrize("model_id", ["lr", "lightgbm"])
def test_a_long_parquet_column_is_looked_up_by_its_categories_with_each_row_answered_as_alone(shop, model_id):
    """From LOOK_UP_DISTINCT_FROM_ROWS rows on, the encoders look up each distinct value once: the answers stay
    those of each row alone, unseen categories included, for the rows of a parquet table as for JSON rows."""
    rows = 2 * LOOK_UP_DISTINCT_FROM_ROWS
    frame = shop_sales_frame(rows, seed=4).drop(columns="sales")
    frame.loc[::7, "store"] = "west"  # unseen by the one-hot encoder
    frame.loc[::11, "sku"] = "sku-99"  # unseen by the target encoder
    frame.loc[::13, "channel"] = "phone"  # unseen by the ordinal encoder
    records = frame.astype({"day": str}).to_dict(orient="records")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    scorer = shop.scorer(model_id)
    alone = np.concatenate([scorer.predict(shop.contract.prepare_records([record]).columns) for record in records])
    assert bits(scorer.predict(shop.contract.prepare_table(table).columns)) == bits(alone)
    assert bits(scorer.predict(shop.contract.prepare_records(records).columns)) == bits(alone)
    some = [0, 7, 11, 13, 100]
    assert bits(alone[some]) == bits(pipeline_alone(shop, model_id, [records[i] for i in some]))
    # Text trained as pandas categories reaches the scorer as a pd.Categorical: looked up by its categories.
    as_categories = [
        {**feature, "dtype": "category"} if feature["dtype"] == "object" else feature for feature in shop.features
    ]
    categorical = InputContract(as_categories, "sales", max_string_length=1000).prepare_table(table).columns
    assert isinstance(categorical["store"], pd.Categorical)
    assert bits(scorer.predict(categorical)) == bits(alone)


@pytest.mark.parametrize("method", ["minmax", "maxabs", "robust"])
def test_other_normalize_methods_and_every_date_part_are_compiled_exactly(tmp_path, method):
    parts = ["year", "month", "day", "hour", "minute", "second", "dayofweek", "dayofyear", "quarter"]
    trained = train(tmp_path, ("lr",), normalize=True, normalize_method=method, create_date_columns=parts)
    scorer = trained.scorer("lr")
    made = sorted(column for column in scorer.columns if column.startswith("day_"))
    assert made == sorted(f"day_{part}" for part in [*parts, "week_of_year"])
    verify(scorer, trained.pipelines["lr"], trained.contract)


def test_feature_selection_and_column_drops_are_compiled_exactly(tmp_path):
    data = shop_sales_frame().assign(country="BR")  # one value: its one-hot column has no variance
    trained = train(
        tmp_path,
        ("lr",),
        data,
        low_variance_threshold=0.0,
        remove_multicollinearity=True,
        multicollinearity_threshold=0.6,
        feature_selection=True,
        feature_selection_method="univariate",
        n_features_to_select=0.5,
    )
    pipeline = trained.pipelines["lr"]
    assert {"low_variance", "remove_multicollinearity", "feature_selection"} <= set(pipeline.named_steps)
    scorer = trained.scorer("lr")
    assert "country_BR" not in scorer.columns and len(scorer.columns) < 12
    verify(scorer, pipeline, trained.contract)
    assert_identical_to_the_pipeline(
        trained, "lr", [{**row, "country": "BR"} for row in hand_picked_rows(trained.contract)]
    )


def test_calendar_fields_are_pandas_own_before_1970_and_far_ahead():
    rng = np.random.default_rng(0)
    nanoseconds = rng.integers(np.datetime64("1700-01-01", "ns").astype(np.int64), np.iinfo(np.int64).max, 5000)
    moments = nanoseconds.astype("datetime64[ns]")
    series = pd.Series(moments)
    calendar = Calendar(moments)
    for part, field in DATE_PARTS.items():
        assert field(calendar).tolist() == getattr(series.dt, part).tolist(), part


def test_a_step_it_does_not_compile_leaves_the_pipeline_serving(tmp_path, caplog):
    trained = train(tmp_path, ("lr",), transformation=True)
    with pytest.raises(NotCompilable, match="transformation.*PowerTransformer"):
        compile_pipeline(trained.pipelines["lr"], trained.contract)
    with caplog.at_level(logging.WARNING):
        assert verified_scorer(trained.pipelines["lr"], trained.contract, "model 1") is None
    assert "model 1 is served through its pipeline: step 'transformation' (PowerTransformer)" in caplog.text


def test_an_estimator_it_does_not_compile_leaves_the_pipeline_serving(shop, caplog):
    with caplog.at_level(logging.WARNING):
        assert verified_scorer(shop.pipelines["knn"], shop.contract, "model 2") is None
    assert "model 2 is served through its pipeline: the estimator KNeighborsRegressor is not compiled" in caplog.text


def test_verification_refuses_a_scorer_a_few_bits_off(shop):
    pipeline, scorer = shop.pipelines["lr"], shop.scorer("lr")
    coefficients = scorer.estimator.coefficients.copy()
    largest = np.abs(coefficients).argmax()
    coefficients.flat[largest] *= 1 + 1e-12  # a change in the last digits of the answers
    nudged = dataclasses.replace(scorer, estimator=Linear(coefficients, scorer.estimator.intercept))
    with pytest.raises(NotCompilable, match="where the pipeline answers"):
        verify(nudged, pipeline, shop.contract)

    lookup = next(step for step in scorer.steps if isinstance(step, Lookup) and step.name == "sku")
    table = dict(lookup.table)
    table["sku-7"] = np.nextafter(table["sku-7"], np.inf)
    steps = tuple(dataclasses.replace(step, table=table) if step is lookup else step for step in scorer.steps)
    with pytest.raises(NotCompilable, match="feature 'sku' differs from the pipeline's"):
        verify(dataclasses.replace(scorer, steps=steps), pipeline, shop.contract)
