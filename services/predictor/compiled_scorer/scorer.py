"""``compile_pipeline``: a fitted PyCaret regression pipeline as one ``CompiledScorer``.

A one-row ``pipeline.predict`` costs 12–15 ms, most of it in PyCaret's per-step DataFrame bookkeeping; the same
transformation done as lookups and float64 arithmetic read once from the fitted steps costs microseconds a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from services.predictor.compiled_scorer.estimators import Estimator, compile_estimator
from services.predictor.compiled_scorer.steps import NotCompilable, Step, compile_step
from services.predictor.compiled_scorer.synthetic_rows import covering_records
from services.predictor.input_contract import INTEGER, InputContract


@dataclass(frozen=True)
class CompiledScorer:
    """Predictions from the columns the input contract prepares (feature name → values), without a DataFrame."""

    inputs: tuple[str, ...]
    steps: tuple[Step, ...]
    columns: tuple[str, ...]  # what the estimator is given, in the pipeline's order
    estimator: Estimator
    description: str

    def features(self, prepared: Mapping[str, Any]) -> np.ndarray:
        """The float64 matrix the pipeline's estimator would be given for these rows."""
        # A category column stays a pd.Categorical: the encoders look up its few categories, not each row's text.
        columns = {name: _column(prepared[name]) for name in self.inputs}
        rows = len(columns[self.inputs[0]])
        for step in self.steps:
            step(columns)
        matrix = np.empty((rows, len(self.columns)))
        for position, name in enumerate(self.columns):
            matrix[:, position] = np.asarray(columns[name])
        return matrix

    def predict(self, prepared: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(self.estimator(self.features(prepared)), dtype=np.float64)


def _column(values: Any) -> Any:
    return values if isinstance(values, pd.Categorical) else np.asarray(values)


def compile_pipeline(pipeline: Any, contract: InputContract) -> CompiledScorer:
    """The compiled scorer of ``pipeline`` (whose rows ``contract`` prepares); ``NotCompilable`` says why not."""
    from pycaret.internal.pipeline import Pipeline

    if type(pipeline) is not Pipeline:
        raise NotCompilable(f"a {type(pipeline).__name__} is not a PyCaret regression pipeline")
    if not contract.names:
        raise NotCompilable("the model has no features")
    columns = list(contract.names)
    integer_features = frozenset(feature.name for feature in contract.features if feature.kind == INTEGER)
    steps: list[Step] = []
    for name, wrapper in transforming_steps(pipeline):
        steps.extend(compile_step(name, wrapper, columns, integer_features))
    sample = transformed(pipeline, contract.prepare_records(covering_records(contract.features)[:1]).frame)
    if sorted(map(str, sample.columns)) != sorted(columns):
        raise NotCompilable(f"the compiled steps make columns {columns}, the pipeline's make {list(sample.columns)}")
    estimator = pipeline.steps[-1][1]
    return CompiledScorer(
        inputs=tuple(contract.names),
        steps=tuple(steps),
        columns=tuple(map(str, sample.columns)),
        estimator=compile_estimator(estimator, lightgbm_dtype(sample)),
        description=f"{type(estimator).__name__} after {', '.join(name for name, _ in transforming_steps(pipeline))}",
    )


def transforming_steps(pipeline: Any) -> list[tuple[str, Any]]:
    """The steps ``pipeline.predict`` runs before its estimator (PyCaret skips train-only ones such as outliers)."""
    return [
        (name, step)
        for name, step in pipeline.steps[:-1]
        if step is not None
        and not (isinstance(step, str) and step == "passthrough")
        and not getattr(step, "_train_only", False)
    ]


def transformed(pipeline: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """What ``pipeline.predict`` gives its estimator for ``frame``."""
    for _, step in transforming_steps(pipeline):
        frame = step.transform(frame)
    return frame


def lightgbm_dtype(frame: pd.DataFrame) -> np.dtype:
    """The dtype LightGBM's sklearn wrapper converts a frame to (the widest of its columns and float32)."""
    try:
        return np.result_type(*[dtype.type for dtype in frame.dtypes], np.float32)
    except TypeError:
        return np.dtype(object)
