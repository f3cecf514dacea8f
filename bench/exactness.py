"""Section 7: every regression model the run trained, scored by its compiled scorer and by its PyCaret pipeline on
the rows it was trained on, as the predictor would score them (the input contract first)."""

from __future__ import annotations

import json

import numpy as np

from bench.report import SECTIONS, Report, Row
from bench.session import Session, serving_model
from services.predictor.compiled_scorer import verified_scorer

EXACTNESS = SECTIONS[6]
ROWS_ONE_BY_ONE = 200


def measure_exactness(session: Session, report: Report) -> None:
    signing_key = session.platform.env["MODEL_SIGNING_KEY"]
    for name, (project_id, data) in session.trained.items():
        model = serving_model(session.database_url, project_id, signing_key)
        contract = model.contract()
        # The rows a request may carry: the model's features, none missing (the predictor refuses missing values),
        # as JSON carries them (dates as ISO text).
        rows = data[[feature["name"] for feature in model.features]].dropna()
        records = json.loads(rows.to_json(orient="records", date_format="iso"))
        prepared = contract.prepare_records(records)
        scorer = verified_scorer(model.pipeline, contract, name)
        if scorer is None:
            report.add(
                Row(
                    EXACTNESS,
                    f"{name} (`{model.algorithm}`)",
                    "not compiled",
                    "served by its pipeline (the log says why)",
                )
            )
            continue
        compiled = scorer.predict(prepared.columns)
        in_one_call = np.asarray(model.pipeline.predict(prepared.frame), dtype="float64")
        sample = records[:ROWS_ONE_BY_ONE]
        alone = np.array(
            [model.pipeline.predict(contract.prepare_records([record]).frame)[0] for record in sample], dtype="float64"
        )
        exact = float(np.abs(compiled[: len(alone)] - alone).max())
        batch = float(np.abs(compiled - in_one_call).max())
        report.add(
            Row(
                EXACTNESS,
                f"{name} (`{model.algorithm}`): max |compiled − pipeline| over its first {len(alone)} training rows "
                "each scored alone",
                f"{exact:.3g} units",
                f"over all {len(rows):,} complete rows in one pipeline call: {batch:.3g}",
                "",
                "identical answers (0)",
                "PASS" if exact == 0 else "MISS",
            )
        )
