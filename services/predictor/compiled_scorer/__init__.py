"""Compiled scorers: a model's PyCaret pipeline as plain lookups and float64 arithmetic, proven identical at load.

``verified_scorer(pipeline, contract, label)`` compiles the pipeline (``scorer.compile_pipeline``) and checks it
against ``pipeline.predict`` on rows synthesized from the feature schema (``verification.verify``). It returns None,
with the reason logged, when a step or the estimator is not compiled or any answer differs by a bit; the pipeline
then serves.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from services.predictor.compiled_scorer.scorer import CompiledScorer, compile_pipeline
from services.predictor.compiled_scorer.steps import NotCompilable
from services.predictor.compiled_scorer.verification import verify
from services.predictor.input_contract import InputContract

__all__ = ["CompiledScorer", "NotCompilable", "compile_pipeline", "verified_scorer", "verify"]

log = logging.getLogger(__name__)


def verified_scorer(pipeline: Any, contract: InputContract, label: str) -> CompiledScorer | None:
    """The pipeline's compiled scorer if it gives the pipeline's own answers; None (logged) otherwise."""
    started = time.perf_counter()
    try:
        scorer = compile_pipeline(pipeline, contract)
        rows = verify(scorer, pipeline, contract)
    except NotCompilable as exc:
        log.warning("%s is served through its pipeline: %s", label, exc)
        return None
    except Exception:
        log.exception("%s is served through its pipeline: compiling or verifying its scorer failed", label)
        return None
    log.info(
        "%s is served by its compiled scorer (%s), identical to the pipeline on %d rows (checked in %.2f s)",
        label,
        scorer.description,
        rows,
        time.perf_counter() - started,
    )
    return scorer
