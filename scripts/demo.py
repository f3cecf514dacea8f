"""Show SalesML working end to end against a running platform (`make run`, then `make demo`).

Registers a demo user, uploads the supplements example (`demo.supplements`), trains a few fast models with a
progress bar, prints the leaderboard and asks: how many Creatina sell at R$150 on a Saturday, with and without a
promotion? Then it uploads four years of monthly sales of three stores (`demo.store_sales`), trains a forecast and
prints the next six months of each store with their 80% intervals. Every answer is printed next to the rule the data
was generated from.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import uuid
from pathlib import Path

import pandas as pd

# Run as `python scripts/demo.py`, this file's folder comes first on sys.path, where `import demo` would find this
# file instead of the `demo` package: take the folder off the path before importing the package.
SCRIPTS_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != SCRIPTS_DIR]

from cli.client import ApiError, ClientError, SalesMLClient  # noqa: E402
from cli.credentials import CredentialStore  # noqa: E402
from cli.main import DEFAULT_URL, format_api_error, report_finished_run  # noqa: E402
from cli.progress import follow_run  # noqa: E402
from cli.tables import format_table  # noqa: E402
from demo.store_sales import expected_store_sales, generate_store_sales  # noqa: E402
from demo.supplements import expected_sales, generate_supplements_sales  # noqa: E402
from shared.config import REPO_ROOT  # noqa: E402

FULL_TRAINING = {"include": ["lr", "ridge", "dt", "rf", "gbr"], "folds": 3}
QUICK_TRAINING = {"include": ["lr", "dt"], "folds": 2}
FULL_ROWS, QUICK_ROWS = 2000, 500
DEMO_PASSWORD = "salesml-demo-password"
QUESTION = {"product": "Creatina", "price": 150, "weekday": "Saturday"}
STORE_MONTHS = 48
# Seasonal naive (the bar every served forecast must clear) against ETS, on two backtest windows: seconds.
FORECAST_TRAINING = {
    "task": "forecast",
    "date_column": "month",
    "series_columns": ["store"],
    "horizon": 6,
    "include": ["snaive", "ets"],
    "backtest_windows": 2,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the SalesML gateway (default {DEFAULT_URL})")
    parser.add_argument("--username", help="demo user to create, or to reuse if it exists (default: demo_<random>)")
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument("--quick", action="store_true", help="fewer rows and models (lr, dt; 2 folds)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated sales")
    return parser.parse_args(argv)


def sign_in(client: SalesMLClient, username: str, password: str) -> None:
    try:
        client.register(username, password)
        print(f"registered demo user {username}")
    except ApiError as exc:
        if exc.code != 409:
            raise
        print(f"reusing demo user {username}")
    client.login(username, password)


def upload_frame(client: SalesMLClient, project_id: int, frame: pd.DataFrame, name: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="salesml-demo-") as folder:
        path = Path(folder) / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        return client.upload_dataset(project_id, path)


def trained(client: SalesMLClient, project_id: int, params: dict) -> bool:
    """Train with a progress bar on stderr, then print the leaderboard; whether the run succeeded."""
    run = follow_run(client, project_id, client.train(project_id, params), stream=sys.stderr)
    return report_finished_run(run) == 0


def answer_question(client: SalesMLClient, project_id: int) -> list[list]:
    """Predicted and rule sales of the question, without and with a promotion: rows of the answer table."""
    rows = [{**QUESTION, "promotion": promotion} for promotion in (0, 1)]
    answer = client.predict(project_id, rows)
    return [
        [row["promotion"], predicted, expected_sales(row["product"], row["price"], row["promotion"], row["weekday"])]
        for row, predicted in zip(rows, answer["predictions"], strict=True)
    ]


def next_months(client: SalesMLClient, project_id: int) -> list[list]:
    """Each store's forecast months with their 80% interval and the rule's sales: rows of the forecast table."""
    answer = client.forecast(project_id, {})
    return [
        [
            row["store"],
            row["month"],
            row["forecast"],
            row["lower_80"],
            row["upper_80"],
            expected_store_sales(row["store"], row["month"]),
        ]
        for row in answer["forecasts"]
    ]


def run_demo(args: argparse.Namespace, client: SalesMLClient) -> int:
    sign_in(client, args.username or f"demo_{uuid.uuid4().hex[:8]}", args.password)
    project = client.create_project("Supplements demo", target="sales", description="Daily sales of five supplements")
    print(f"created project {project['id']}")

    rows = QUICK_ROWS if args.quick else FULL_ROWS
    dataset = upload_frame(client, project["id"], generate_supplements_sales(rows=rows, seed=args.seed), "supplements")
    print(f"uploaded {dataset['rows']} days of sales: {', '.join(c['name'] for c in dataset['columns'])}")

    params = QUICK_TRAINING if args.quick else FULL_TRAINING
    print(f"training {', '.join(params['include'])} with {params['folds']}-fold cross-validation")
    if not trained(client, project["id"], params):
        return 1

    print(f"\nHow many Creatina sell at R${QUESTION['price']} on a {QUESTION['weekday']}?")
    print(format_table(["promotion", "predicted", "rule"], answer_question(client, project["id"])))

    stores = client.create_project("Stores demo", target="sales", description="Monthly sales of three stores")
    history = upload_frame(
        client, stores["id"], generate_store_sales(months=STORE_MONTHS, seed=args.seed), "store_sales"
    )
    print(f"\ncreated project {stores['id']}")
    print(f"uploaded {STORE_MONTHS} months of sales of three stores: {history['rows']} rows")
    print(
        f"training a forecast of {FORECAST_TRAINING['horizon']} months: {', '.join(FORECAST_TRAINING['include'])} "
        f"compared on {FORECAST_TRAINING['backtest_windows']} backtest windows"
    )
    if not trained(client, stores["id"], FORECAST_TRAINING):
        return 1

    print("\nHow much will each store sell in the next months? (with the 80% interval)")
    headers = ["store", "month", "forecast", "lower 80%", "upper 80%", "rule"]
    print(format_table(headers, next_months(client, stores["id"])))

    username = client.store.load(client.url).username
    salesml = f"{salesml_command()} --url {shlex.quote(client.url)}"
    print("\nTry it yourself (from the repository's folder):")
    print(f"  {salesml} login {shlex.quote(username)} --password {shlex.quote(args.password)}")
    print(f"  {salesml} predict {project['id']} product=Creatina price=150 promotion=1 weekday=Saturday")
    print(f"  {salesml} forecast {stores['id']} --series store=Centro --horizon 3")
    return 0


def salesml_command() -> str:
    """The `salesml` installed beside this interpreter, as a path from the repository's folder when it is inside it
    (`.venv/bin/salesml`); `python -m cli.main` when there is none."""
    script = Path(sys.executable).with_name("salesml")
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m cli.main"
    absolute = script.absolute()
    return shlex.quote(str(absolute.relative_to(REPO_ROOT) if absolute.is_relative_to(REPO_ROOT) else absolute))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="salesml-demo-credentials-") as folder:
        client = SalesMLClient(args.url, store=CredentialStore(Path(folder)))
        try:
            return run_demo(args, client)
        except ClientError as exc:
            print(format_api_error(exc), file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
