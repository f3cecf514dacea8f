"""The SalesML command line: log in, upload sales data, train models and predict through the gateway.

Every failure prints the gateway's message (and its per-field `errors`) to stderr and exits 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli.client import ApiError, ClientError, SalesMLClient
from cli.progress import follow_run
from cli.tables import format_table, leaderboard_table, models_table, projects_table, runs_table
from cli.tabular import UnsupportedFile

DEFAULT_URL = "http://localhost:8000"
URL_ENV = "SALESML_URL"
PASSWORD_ENV = "SALESML_PASSWORD"
SORT_METRICS = ("R2", "MAE", "MSE", "RMSE", "RMSLE", "MAPE")
INTEGER = re.compile(r"[+-]?\d+")


def parse_feature_value(text: str) -> int | float | str:
    """`150` → 150, `19.9` → 19.9, anything else (including `nan`, `inf`) stays a string."""
    if INTEGER.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def parse_feature_pairs(pairs: Sequence[str]) -> dict[str, int | float | str]:
    features: dict[str, int | float | str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise argparse.ArgumentTypeError(f"expected FEATURE=VALUE, got {pair!r}")
        features[name] = parse_feature_value(value)
    return features


def parse_model_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("expected a comma-separated list of model ids, e.g. lr,ridge,rf")
    return ids


def training_params(args: argparse.Namespace) -> dict[str, Any]:
    """The train request body: only the options the user gave, so the server's defaults apply to the rest."""
    params = {
        "target": args.target,
        "dataset_id": args.dataset,
        "include": args.include,
        "exclude": args.exclude,
        "folds": args.folds,
        "sort": args.sort,
        "time_budget_s": args.time_budget,
        "seed": args.seed,
    }
    return {name: value for name, value in params.items() if value is not None}


def load_json_features(path: str) -> dict | list:
    """A JSON object (one row), a list of objects, or `{"records": [...]}`; `-` reads standard input."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        content = json.loads(text)
    except OSError as exc:
        raise ClientError(f"{path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ClientError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(content, dict) and isinstance(content.get("records"), list):
        content = content["records"]
    if isinstance(content, dict) or (isinstance(content, list) and all(isinstance(row, dict) for row in content)):
        return content
    raise ClientError(f"{path}: expected a JSON object or a list of objects")


def format_api_error(error: ClientError) -> str:
    lines = [f"error: {error.message}"]
    for field, messages in (error.errors if isinstance(error, ApiError) else {}).items():
        if isinstance(messages, list):
            messages = "; ".join(str(message) for message in messages)
        lines.append(f"  {field}: {messages}")
    return "\n".join(lines)


def read_password(args: argparse.Namespace, confirm: bool = False) -> str:
    if args.password:
        return args.password
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        raise ClientError("the passwords do not match")
    return password


# --- commands ---------------------------------------------------------------------------------------------------


def cmd_register(client: SalesMLClient, args: argparse.Namespace) -> int:
    user = client.register(args.username, read_password(args, confirm=True))
    print(f"registered user {user['username']} (id {user['id']}); now run: salesml login {user['username']}")
    return 0


def cmd_login(client: SalesMLClient, args: argparse.Namespace) -> int:
    client.login(args.username, read_password(args))
    print(f"logged in to {client.url} as {args.username}")
    return 0


def cmd_logout(client: SalesMLClient, args: argparse.Namespace) -> int:
    client.logout()
    print(f"logged out of {client.url}")
    return 0


def cmd_whoami(client: SalesMLClient, args: argparse.Namespace) -> int:
    user = client.me()
    print(f"{user['username']} (id {user['id']}) at {client.url}")
    return 0


def cmd_projects(client: SalesMLClient, args: argparse.Namespace) -> int:
    if args.projects_command == "create":
        project = client.create_project(args.name, target=args.target, description=args.description)
        print(f"created project {project['id']} {project['name']!r} (target {project['target']})")
    elif args.projects_command == "delete":
        client.delete_project(args.project_id)
        print(f"deleted project {args.project_id}")
    else:
        print(projects_table(client.list_projects()))
    return 0


def cmd_upload(client: SalesMLClient, args: argparse.Namespace) -> int:
    dataset = client.upload_dataset(args.project_id, args.file)
    columns = ", ".join(column["name"] for column in dataset.get("columns", []))
    print(f"uploaded dataset {dataset['id']} to project {args.project_id}: {dataset['rows']} rows; columns: {columns}")
    return 0


def cmd_train(client: SalesMLClient, args: argparse.Namespace) -> int:
    run = client.train(args.project_id, training_params(args))
    if not args.wait:
        print(f"training run {run['id']} {run['status']}; follow it with: salesml runs {args.project_id} {run['id']}")
        return 0
    print(f"training run {run['id']} {run['status']}", file=sys.stderr)
    try:
        run = follow_run(client, args.project_id, run, stream=sys.stderr)
    except KeyboardInterrupt:
        print(
            f"\nstopped following run {run['id']}; it goes on (salesml runs {args.project_id} {run['id']})",
            file=sys.stderr,
        )
        return 130
    return report_finished_run(run)


def report_finished_run(run: dict) -> int:
    if run.get("leaderboard"):
        print(leaderboard_table(run["leaderboard"]))
    if run["status"] == "succeeded":
        print(f"run {run['id']} succeeded: model version {run.get('model_version')}")
        return 0
    message = (run.get("error") or {}).get("message") or "no reason given"
    print(f"error: training run {run['id']} {run['status']}: {message}", file=sys.stderr)
    return 1


def cmd_runs(client: SalesMLClient, args: argparse.Namespace) -> int:
    if args.run_id is None:
        print(runs_table(client.list_runs(args.project_id)))
        return 0
    run = client.get_run(args.project_id, args.run_id)
    print(runs_table([run]))
    if run.get("error"):
        print(f"error: {run['error'].get('message')}")
    if run.get("leaderboard"):
        print()
        print(leaderboard_table(run["leaderboard"]))
    return 0


def cmd_cancel(client: SalesMLClient, args: argparse.Namespace) -> int:
    run = client.cancel_run(args.project_id, args.run_id)
    print(f"training run {run['id']} {run['status']}")
    return 0


def cmd_models(client: SalesMLClient, args: argparse.Namespace) -> int:
    print(models_table(client.list_models(args.project_id)))
    return 0


def cmd_activate(client: SalesMLClient, args: argparse.Namespace) -> int:
    model = client.activate_model(args.project_id, args.version)
    print(f"model version {model['version']} ({model['algorithm']}) now serves project {args.project_id}")
    return 0


def cmd_predict(client: SalesMLClient, args: argparse.Namespace) -> int:
    if args.input is not None:
        if args.output is not None:
            client.predict_file_to(args.project_id, args.input, args.output, version=args.version)
            print(f"wrote predictions to {args.output}")
        else:
            records = client.predict_file(args.project_id, args.input, version=args.version)
            print(records_table(records))
        return 0
    features = load_json_features(args.json) if args.json is not None else parse_feature_pairs(args.features)
    answer = client.predict(args.project_id, features, version=args.version)
    for warning in answer.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)
    if isinstance(features, list):
        rows = [{**row, "prediction": value} for row, value in zip(features, answer["predictions"], strict=True)]
        print(records_table(rows))
        print(f"(model version {answer.get('model_version')})")
    else:
        print(f"prediction: {answer['prediction']:.4f} (model version {answer.get('model_version')})")
    return 0


def records_table(records: Sequence[dict]) -> str:
    """Rows with their prediction, which comes last even when rows do not all have the same columns."""
    headers = [name for name in dict.fromkeys(name for record in records for name in record) if name != "prediction"]
    headers.append("prediction")
    return format_table(headers, [[record.get(name) for name in headers] for record in records])


# --- parser -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salesml", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV, DEFAULT_URL),
        help=f"the SalesML gateway (default: ${URL_ENV} or {DEFAULT_URL})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, handler, text in (
        ("register", cmd_register, "create a user"),
        ("login", cmd_login, "log in and keep the tokens for the next commands"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("username")
        command.add_argument("--password", help=f"(default: ${PASSWORD_ENV}, else asked for)")
        command.set_defaults(handler=handler)
    commands.add_parser("logout", help="revoke and forget the stored tokens").set_defaults(handler=cmd_logout)
    commands.add_parser("whoami", help="show the logged-in user").set_defaults(handler=cmd_whoami)

    projects = commands.add_parser("projects", help="list, create or delete projects")
    projects.set_defaults(handler=cmd_projects)
    project_commands = projects.add_subparsers(dest="projects_command", metavar="{list,create,delete}")
    project_commands.add_parser("list", help="list your projects (the default)")
    create = project_commands.add_parser("create", help="create a project")
    create.add_argument("name")
    create.add_argument("--target", help="the column to predict (default: sales)")
    create.add_argument("--description")
    delete = project_commands.add_parser("delete", help="delete a project with its data and models")
    delete.add_argument("project_id", type=int)

    upload = commands.add_parser("upload", help="upload a dataset (.parquet, or .csv converted to parquet)")
    upload.add_argument("project_id", type=int)
    upload.add_argument("file", type=Path)
    upload.set_defaults(handler=cmd_upload)

    train = commands.add_parser("train", help="start a training run (AutoML over the project's latest dataset)")
    train.add_argument("project_id", type=int)
    train.add_argument("--include", type=parse_model_ids, help="model ids to compare, e.g. lr,ridge,rf,lightgbm")
    train.add_argument("--exclude", type=parse_model_ids, help="model ids to leave out")
    train.add_argument("--folds", type=int, help="cross-validation folds, 2-10 (default 5)")
    train.add_argument("--sort", choices=SORT_METRICS, help="metric that ranks the models (default R2)")
    train.add_argument("--time-budget", type=int, metavar="SECONDS", help="time budget for comparing models")
    train.add_argument("--target", help="column to predict (default: the project's)")
    train.add_argument("--dataset", metavar="DATASET_ID", help="dataset to train on (default: latest)")
    train.add_argument("--seed", type=int)
    train.add_argument("--wait", action="store_true", help="show progress until the run ends, then the leaderboard")
    train.set_defaults(handler=cmd_train)

    runs = commands.add_parser("runs", help="list a project's training runs, or show one with its leaderboard")
    runs.add_argument("project_id", type=int)
    runs.add_argument("run_id", type=int, nargs="?")
    runs.set_defaults(handler=cmd_runs)

    cancel = commands.add_parser("cancel", help="cancel a queued or running training run")
    cancel.add_argument("project_id", type=int)
    cancel.add_argument("run_id", type=int)
    cancel.set_defaults(handler=cmd_cancel)

    models = commands.add_parser("models", help="list a project's model versions")
    models.add_argument("project_id", type=int)
    models.set_defaults(handler=cmd_models)

    activate = commands.add_parser("activate", help="make a model version serve predictions (promote or roll back)")
    activate.add_argument("project_id", type=int)
    activate.add_argument("version", type=int)
    activate.set_defaults(handler=cmd_activate)

    predict = commands.add_parser(
        "predict",
        help="predict from FEATURE=VALUE pairs, a JSON file, or a .parquet/.csv file",
        epilog="example: salesml predict 1 price=150 promotion=1 product=Creatina weekday=Saturday",
    )
    predict.add_argument("project_id", type=int)
    predict.add_argument("features", nargs="*", metavar="FEATURE=VALUE", help="one row; numbers are parsed")
    source = predict.add_mutually_exclusive_group()
    source.add_argument("--json", metavar="FILE", help="a JSON object (one row) or a list of objects ('-': stdin)")
    source.add_argument("--input", type=Path, metavar="FILE", help="a .parquet or .csv file of rows")
    predict.add_argument("--output", type=Path, metavar="FILE", help="with --input: write rows + prediction here")
    predict.add_argument("--version", type=int, help="model version to use (default: the active one)")
    predict.set_defaults(handler=cmd_predict)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "predict":
        given = [bool(args.features), args.json is not None, args.input is not None]
        if sum(given) != 1:
            parser.error("predict: give FEATURE=VALUE pairs, --json FILE or --input FILE (exactly one)")
        if args.output is not None and args.input is None:
            parser.error("predict: --output needs --input")
        try:
            parse_feature_pairs(args.features)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"predict: {exc}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client = SalesMLClient(args.url)
    try:
        return args.handler(client, args)
    except ClientError as exc:
        print(format_api_error(exc), file=sys.stderr)
    except UnsupportedFile as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
