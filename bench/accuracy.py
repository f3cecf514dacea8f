"""Section 5: the platform's default training on real datasets against their reference scores."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from bench.platform import SECOND_WORKER
from bench.report import SECTIONS, Report, Row, number, ratio, verdict
from bench.session import (
    Session,
    create_project_with,
    parquet_body,
    predict_parquet_via_gateway,
    wait_for_run,
)
from harness.datasets import datasets_dir

ACCURACY = SECTIONS[4]

# References from the shared datasets' README.md.
ADVERTISING_R2_GB = 0.962
BIGMART_RMSE_GB, BIGMART_RMSE_LINEAR = 1104.8, 1130.5
WALMART_MAE_GB = 47_894.0
WALMART_HOLDOUT_WEEKS = 26
WALMART_STORE_CATEGORICAL = "Walmart Store categorical"


def measure_accuracy(session: Session, report: Report) -> None:
    """Default training through the platform on three real datasets, two training workers at once; and Walmart
    again with its store number named in ``categorical_features`` (a user's choice, reported on its own row)."""
    advertising = pd.read_csv(datasets_dir() / "advertising_islr.csv")
    bigmart = pd.read_csv(datasets_dir() / "bigmart_train.csv")
    walmart = read_walmart(datasets_dir() / "walmart_45stores_weekly.csv")
    cutoff = np.sort(walmart["Date"].unique())[-WALMART_HOLDOUT_WEEKS]
    walmart_train, walmart_holdout = walmart[walmart["Date"] < cutoff], walmart[walmart["Date"] >= cutoff]

    session.platform.start(SECOND_WORKER)
    started = time.perf_counter()
    submitted = {}
    for name, target, data, params in (
        ("Big Mart", "Item_Outlet_Sales", bigmart, {}),
        ("Walmart", "Weekly_Sales", walmart_train, {}),
        ("Advertising", "sales", advertising, {}),
        (WALMART_STORE_CATEGORICAL, "Weekly_Sales", walmart_train, {"categorical_features": ["Store"]}),
    ):
        project_id = create_project_with(session, name, target, data)
        submitted[name] = (project_id, session.client.train(project_id, params))
        session.trained[name] = (project_id, data)
    finished = {
        name: wait_for_run(session, project_id, run, started, session.sizes.accuracy_timeout_s)
        for name, (project_id, run) in submitted.items()
        if name != WALMART_STORE_CATEGORICAL
    }
    default_seconds = time.perf_counter() - started
    project_id, run = submitted[WALMART_STORE_CATEGORICAL]
    finished[WALMART_STORE_CATEGORICAL] = wait_for_run(
        session, project_id, run, started, session.sizes.accuracy_timeout_s
    )
    session.platform.stop(SECOND_WORKER)

    run = finished["Advertising"]
    r2 = run["leaderboard"][0]["R2"]
    report.add(
        Row(
            ACCURACY,
            f"Advertising (200 rows): best model `{run['leaderboard'][0]['model']}`, 5-fold CV R²",
            f"{r2:.3f}",
            f"gradient boosting {ADVERTISING_R2_GB} (own, 5-fold CV)",
            f"{r2 - ADVERTISING_R2_GB:+.3f}",
            f"R² ≥ {ADVERTISING_R2_GB}",
            verdict(r2 >= ADVERTISING_R2_GB),
        )
    )
    run = finished["Big Mart"]
    rmse = run["leaderboard"][0]["RMSE"]
    report.add(
        Row(
            ACCURACY,
            f"Big Mart (8,523 rows): best model `{run['leaderboard'][0]['model']}`, 5-fold CV RMSE",
            number(rmse),
            f"gradient boosting {BIGMART_RMSE_GB}, linear {BIGMART_RMSE_LINEAR} (own, 5-fold CV)",
            ratio(rmse / BIGMART_RMSE_GB),
            f"RMSE ≤ {BIGMART_RMSE_GB}",
            verdict(rmse <= BIGMART_RMSE_GB),
        )
    )
    holdout_features = parquet_body(walmart_holdout.drop(columns="Weekly_Sales"))
    for name, label in (
        ("Walmart", "Walmart (45 stores)"),
        (WALMART_STORE_CATEGORICAL, "Walmart with categorical_features=[Store] (a user's choice, not the default)"),
    ):
        project_id, _ = submitted[name]
        run = finished[name]
        scored = predict_parquet_via_gateway(session, requests.Session(), holdout_features, project_id)
        mae = float(np.mean(np.abs(scored["prediction"].to_numpy() - walmart_holdout["Weekly_Sales"].to_numpy())))
        report.add(
            Row(
                ACCURACY,
                f"{label}: best model `{run['leaderboard'][0]['model']}` trained on the weeks before "
                f"{pd.Timestamp(cutoff):%Y-%m-%d}, MAE on the last {WALMART_HOLDOUT_WEEKS} weeks (scored via the "
                "gateway)",
                number(mae, 0),
                f"gradient boosting {WALMART_MAE_GB:,.0f}; seasonal naive 54,031 (own)",
                ratio(mae / WALMART_MAE_GB),
                f"MAE ≤ {WALMART_MAE_GB:,.0f}",
                verdict(mae <= WALMART_MAE_GB),
            )
        )
    report.add(
        Row(ACCURACY, "wall time of the three default trainings (two training workers, the fourth queued with them)",
            f"{number(default_seconds)} s")
    )  # fmt: skip


def read_walmart(path: Path) -> pd.DataFrame:
    """The Walmart table with ``Date`` parsed (it mixes dd-mm-yyyy and dd/mm/yy) and rows in time order."""
    data = pd.read_csv(path)
    raw = data["Date"].astype(str)
    dates = pd.to_datetime(raw, format="%d-%m-%Y", errors="coerce")
    data["Date"] = dates.fillna(pd.to_datetime(raw, format="%d/%m/%y", errors="coerce"))
    if data["Date"].isna().any():
        raise RuntimeError("unparsed dates in the Walmart file")
    return data.sort_values(["Date", "Store"], kind="stable").reset_index(drop=True)
