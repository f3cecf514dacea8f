"""Fitted regressors scored straight from their parameters on the feature matrix (float64, one row per row).

Each one computes a row's prediction from that row alone, with the arithmetic of the estimator's own ``predict``
(the same dtype conversions, the same order of additions), so the answer is the same alone or in any batch.
Anything else raises ``NotCompilable``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.predictor.compiled_scorer.steps import NotCompilable

# LightGBM parallelizes a prediction over rows only; below this many rows its threads cost more than they save.
LIGHTGBM_ROWS_PER_THREAD = 20_000

Estimator = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Linear:
    """``coef_`` and ``intercept_`` of a linear model."""

    coefficients: np.ndarray  # shape (p, 1)
    intercept: float

    def __call__(self, features: np.ndarray) -> np.ndarray:
        # One BLAS dot product per row, as sklearn's ``X @ coef_`` is for a one-row X. For more rows that product is
        # a gemv, which adds in another order: with large coefficients of both signs (collinear one-hot columns),
        # the same row would get another answer in a batch.
        return np.matmul(features[:, np.newaxis, :], self.coefficients)[:, 0, 0] + self.intercept


@dataclass(frozen=True)
class Constant:
    """DummyRegressor."""

    value: float

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return np.full(len(features), self.value)


@dataclass(frozen=True)
class DecisionTree:
    tree: Any  # sklearn.tree._tree.Tree

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return self.tree.predict(_as_float32(features))[:, 0]


@dataclass(frozen=True)
class Forest:
    """Random forest and extra trees: the trees' predictions added in order, then averaged, as sklearn does with
    ``n_jobs=1`` (without its thread pool, which costs about 1 ms a call)."""

    trees: np.ndarray  # the estimators, shape (n_trees, 1), as ``predict_stages`` takes them

    def __call__(self, features: np.ndarray) -> np.ndarray:
        from sklearn.ensemble._gradient_boosting import predict_stages

        total = np.zeros((len(features), 1))
        predict_stages(self.trees, _as_float32(features), 1.0, total)  # total += 1.0 * tree value: exact sums
        return total[:, 0] / len(self.trees)


@dataclass(frozen=True)
class GradientBoosting:
    """GradientBoostingRegressor: its own ``_raw_predict``, which ``predict`` calls after validating the input."""

    model: Any

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return self.model._raw_predict(_as_float32(features)).ravel()


@dataclass(frozen=True)
class LightGBM:
    """LGBMRegressor through its booster, given the dtype the sklearn wrapper would convert the frame to."""

    booster: Any
    dtype: np.dtype

    def __call__(self, features: np.ndarray) -> np.ndarray:
        threads = 1 if len(features) < LIGHTGBM_ROWS_PER_THREAD else 0  # 0: OpenMP's default
        return self.booster.predict(features.astype(self.dtype, copy=False), num_threads=threads)


def _as_float32(features: np.ndarray) -> np.ndarray:
    """What sklearn's trees compare with their thresholds."""
    return np.ascontiguousarray(features, dtype=np.float32)


def compile_estimator(estimator: Any, frame_dtype: np.dtype) -> Estimator:
    """The scorer for a fitted regressor; ``frame_dtype`` is what LightGBM makes of the transformed frame."""
    compiler = _compilers().get(type(estimator))
    if compiler is None:
        raise NotCompilable(f"the estimator {type(estimator).__name__} is not compiled")
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise NotCompilable(f"the estimator {type(estimator).__name__} predicts more than one target")
    return compiler(estimator, frame_dtype)


def _linear(model: Any, _: np.dtype) -> Estimator:
    coefficients = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if coefficients.ndim == 2 and coefficients.shape[0] == 1:
        coefficients = coefficients[0]
    if coefficients.ndim != 1 or intercept.size != 1:
        raise NotCompilable(f"the linear model {type(model).__name__} has more than one target")
    return Linear(np.ascontiguousarray(coefficients)[:, np.newaxis], float(intercept.reshape(-1)[0]))


def _ransac(model: Any, frame_dtype: np.dtype) -> Estimator:
    inner = model.estimator_
    if type(inner) not in _linear_models():
        raise NotCompilable(f"RANSACRegressor around {type(inner).__name__} is not compiled")
    return _linear(inner, frame_dtype)


def _constant(model: Any, _: np.dtype) -> Estimator:
    return Constant(float(np.asarray(model.constant_, dtype=np.float64).reshape(-1)[0]))


def _decision_tree(model: Any, _: np.dtype) -> Estimator:
    return DecisionTree(model.tree_)


def _forest(model: Any, _: np.dtype) -> Estimator:
    trees = np.empty((len(model.estimators_), 1), dtype=object)
    trees[:, 0] = model.estimators_
    return Forest(trees)


def _gradient_boosting(model: Any, _: np.dtype) -> Estimator:
    return GradientBoosting(model)


def _lightgbm(model: Any, frame_dtype: np.dtype) -> Estimator:
    booster = model.booster_
    if booster.pandas_categorical:
        raise NotCompilable("a LightGBM model with pandas categorical features is not compiled")
    if frame_dtype not in (np.float32, np.float64):
        raise NotCompilable(f"LightGBM would be given {frame_dtype} features")
    return LightGBM(booster, np.dtype(frame_dtype))


@functools.cache
def _linear_models() -> frozenset[type]:
    """Models whose ``predict`` is ``X @ coef_ + intercept_`` (sklearn's ``LinearModel._decision_function``)."""
    from sklearn import linear_model

    return frozenset(
        {
            linear_model.ARDRegression,
            linear_model.BayesianRidge,
            linear_model.ElasticNet,
            linear_model.HuberRegressor,
            linear_model.Lars,
            linear_model.Lasso,
            linear_model.LassoLars,
            linear_model.LinearRegression,
            linear_model.OrthogonalMatchingPursuit,
            linear_model.PassiveAggressiveRegressor,
            linear_model.Ridge,
            linear_model.TheilSenRegressor,
        }
    )


@functools.cache
def _compilers() -> dict[type, Callable[[Any, np.dtype], Estimator]]:
    """The estimator classes compiled here, matched exactly (a subclass may predict otherwise)."""
    from lightgbm import LGBMRegressor
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import RANSACRegressor
    from sklearn.tree import DecisionTreeRegressor

    return {
        **dict.fromkeys(_linear_models(), _linear),
        RANSACRegressor: _ransac,
        DummyRegressor: _constant,
        DecisionTreeRegressor: _decision_tree,
        RandomForestRegressor: _forest,
        ExtraTreesRegressor: _forest,
        GradientBoostingRegressor: _gradient_boosting,
        LGBMRegressor: _lightgbm,
    }
