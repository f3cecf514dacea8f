"""The SalesML command line: log in, upload sales data, train models, predict and forecast through the gateway.

Every failure prints the gateway's message (and its per-field `errors`) to stderr and exits 1; usage errors exit 2.
Options may come anywhere after the command (`salesml predict 14 price=150 --version 2`). Table commands print
`--json` (the API's objects) or `--csv` (the table's rows) instead of the text table.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli.client import ApiError, ClientError, SalesMLClient
from cli.progress import follow_run
from cli.samples import SAMPLES, sample_table
from cli.tables import (
    Table,
    activation_text,
    actuals_metrics_table,
    actuals_table,
    actuals_text,
    best_point_text,
    datasets_table,
    explained_rows_table,
    explanation_text,
    features_table,
    leaderboard_table,
    metrics_table,
    model_text,
    models_table,
    projects_table,
    records_table,
    run_task,
    runs_table,
)
from cli.tabular import file_kind, read_records, write_table
from shared.tabular_files import DECIMALS, CsvDialect, UnsupportedFile

DEFAULT_URL = "http://localhost:8000"
URL_ENV = "SALESML_URL"
PASSWORD_ENV = "SALESML_PASSWORD"
SORT_METRICS = ("R2", "MAE", "MSE", "RMSE", "RMSLE", "MAPE", "MASE", "WAPE", "SMAPE")
TASKS = ("regression", "forecast")
ACTIVATION_MODES = ("if_better", "always", "never")
INTEGER = re.compile(r"[+-]?\d+")
SEPARATOR_NAMES = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
# A process ended by SIGPIPE has this status in the shell; `salesml ... | head` ends with it, as other tools do.
CLOSED_OUTPUT_STATUS = 128 + signal.SIGPIPE


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


def parse_vary(text: str) -> dict[str, Any]:
    """`price=50:350:31` → a range (both ends, 31 points); `promotion=0,1` or `weekday=Saturday` → values."""
    column, separator, spec = text.partition("=")
    if not separator or not column or not spec:
        raise argparse.ArgumentTypeError(f"expected COLUMN=FROM:TO:STEPS or COLUMN=V1,V2,..., got {text!r}")
    parts = spec.split(":")
    if len(parts) == 3:
        start, end, steps = (parse_feature_value(part) for part in parts)
        if not all(isinstance(value, int | float) for value in (start, end)) or not isinstance(steps, int):
            raise argparse.ArgumentTypeError(f"expected numbers in COLUMN=FROM:TO:STEPS, got {text!r}")
        return {"column": column, "from": start, "to": end, "steps": steps}
    return {"column": column, "values": [parse_feature_value(value) for value in spec.split(",")]}


def parse_model_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("expected a comma-separated list of model ids, e.g. lr,ridge,rf")
    return ids


def parse_separator(text: str) -> str:
    separator = SEPARATOR_NAMES.get(text.lower(), text)
    if len(separator) != 1 or separator in '"\r\n':
        raise argparse.ArgumentTypeError(f"expected one character (or tab), got {text!r}")
    return separator


def training_params(args: argparse.Namespace) -> dict[str, Any]:
    """The train request body: only the options the user gave, so the server's defaults apply to the rest."""
    params = {
        "task": args.task,
        "target": args.target,
        "dataset_id": args.dataset,
        "include": args.include,
        "exclude": args.exclude,
        "folds": args.folds,
        "sort": args.sort,
        "date_column": args.date,
        "series_columns": args.series,
        "horizon": args.horizon,
        "frequency": args.frequency,
        "known_future": args.known_future,
        "backtest_windows": args.backtest_windows,
        "time_budget_s": args.time_budget,
        "seed": args.seed,
        "activate": args.activate,
    }
    return {name: value for name, value in params.items() if value is not None}


def forecast_request(args: argparse.Namespace, dialect: CsvDialect) -> dict[str, Any]:
    """The forecast request body: the horizon, the series (each from its COL=VALUE pairs) and the known-future rows
    of `--future`, when given."""
    body: dict[str, Any] = {}
    if args.horizon is not None:
        body["horizon"] = args.horizon
    if args.series:
        body["series"] = [parse_feature_pairs(pairs) for pairs in args.series]
    if args.future is not None:
        body["future"] = load_rows(args.future, dialect)
    return body


def load_rows(name: str, dialect: CsvDialect) -> list[dict]:
    """The rows of a .json file (or `-`) or of a .parquet, .csv or .xlsx file, as JSON records."""
    if is_json_input(name):
        rows = load_json_features(name)
        return rows if isinstance(rows, list) else [rows]
    return read_records(Path(name), dialect)


def csv_dialect(args: argparse.Namespace) -> CsvDialect:
    return CsvDialect(separator=args.sep, decimal=args.decimal)


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
    if not sys.stdin.isatty():
        raise ClientError(f"no terminal to ask for the password: give --password or set ${PASSWORD_ENV}")
    try:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Repeat password: ") != password:
            raise ClientError("the passwords do not match")
    except EOFError:
        raise ClientError("no password given") from None
    return password


def show(output: str | None, data: Any, table: Table | None = None, text: str | None = None) -> None:
    """Print a command's result on stdout: `--json` the API's objects, `--csv` the table's rows, otherwise `text`
    (by default the table as text). Every command prints through here."""
    if output == "json":
        rendered = json.dumps(data, indent=2, ensure_ascii=False)
    elif output == "csv" and table is not None:
        rendered = table.csv().removesuffix("\n")
    else:
        rendered = text if text is not None else table.text()
    print(rendered)
    sys.stdout.flush()  # here, where main() sees a closed pipe, not at exit


# --- commands ---------------------------------------------------------------------------------------------------


def cmd_register(client: SalesMLClient, args: argparse.Namespace) -> int:
    user = client.register(args.username, read_password(args, confirm=True))
    text = f"registered user {user['username']} (id {user['id']}); now run: salesml login {user['username']}"
    show(args.output, user, text=text)
    return 0


def cmd_login(client: SalesMLClient, args: argparse.Namespace) -> int:
    client.login(args.username, read_password(args))
    show(args.output, None, text=f"logged in to {client.url} as {args.username}")
    return 0


def cmd_logout(client: SalesMLClient, args: argparse.Namespace) -> int:
    client.logout()
    show(args.output, None, text=f"logged out of {client.url}")
    return 0


def cmd_whoami(client: SalesMLClient, args: argparse.Namespace) -> int:
    user = client.me()
    show(args.output, user, text=f"{user['username']} (id {user['id']}) at {client.url}")
    return 0


def cmd_projects(client: SalesMLClient, args: argparse.Namespace) -> int:
    if args.projects_command == "create":
        project = client.create_project(args.name, target=args.target, description=args.description)
        text = f"created project {project['id']} {project['name']!r} (target {project['target']})"
        show(args.output, project, text=text)
    elif args.projects_command == "delete":
        client.delete_project(args.project_id)
        show(args.output, None, text=f"deleted project {args.project_id}")
    else:
        projects = client.list_projects()
        show(args.output, projects, projects_table(projects))
    return 0


def cmd_upload(client: SalesMLClient, args: argparse.Namespace) -> int:
    dataset = client.upload_dataset(args.project_id, args.file, csv_dialect(args))
    columns = ", ".join(column["name"] for column in dataset.get("columns", []))
    text = f"uploaded dataset {dataset['id']} to project {args.project_id}: {dataset['rows']} rows; columns: {columns}"
    show(args.output, dataset, text=text)
    return 0


def cmd_datasets(client: SalesMLClient, args: argparse.Namespace) -> int:
    datasets = client.list_datasets(args.project_id)
    show(args.output, datasets, datasets_table(datasets))
    return 0


def cmd_preview(client: SalesMLClient, args: argparse.Namespace) -> int:
    dataset_id = args.dataset_id or latest_dataset(client, args.project_id)
    preview = client.preview_dataset(args.project_id, dataset_id, args.limit)
    show(args.output, preview, records_table(preview.get("records") or [], columns=preview.get("columns") or []))
    return 0


def cmd_download(client: SalesMLClient, args: argparse.Namespace) -> int:
    file_kind(args.output_file)  # a suffix it cannot write is refused before the download
    dataset_id = args.dataset_id or latest_dataset(client, args.project_id)
    client.download_dataset(args.project_id, dataset_id, args.output_file, csv_dialect(args))
    show(args.output, None, text=f"wrote dataset {dataset_id} to {args.output_file}")
    return 0


def latest_dataset(client: SalesMLClient, project_id: int) -> str:
    dataset_id = client.get_project(project_id).get("latest_dataset")
    if dataset_id is None:
        raise ClientError(f"project {project_id} has no dataset yet; upload one with: salesml upload")
    return dataset_id


def cmd_train(client: SalesMLClient, args: argparse.Namespace) -> int:
    run = client.train(args.project_id, training_params(args))
    if not args.wait:
        text = f"training run {run['id']} {run['status']}; follow it with: salesml runs {args.project_id} {run['id']}"
        show(args.output, run, text=text)
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
    return report_finished_run(run, args.output)


def report_finished_run(run: dict, output: str | None = None) -> int:
    """The finished run on stdout (its leaderboard, its model version and whether it serves); why it failed on
    stderr. Exit 0 or 1."""
    lines = [leaderboard_table(run["leaderboard"], run_task(run)).text()] if run.get("leaderboard") else []
    if run["status"] == "succeeded":
        lines.append(f"run {run['id']} succeeded: model version {run.get('model_version')}")
        lines += activation_lines(run)
    if lines or output is not None:
        show(output, run, text="\n".join(lines))
    if run["status"] == "succeeded":
        return 0
    message = (run.get("error") or {}).get("message") or "no reason given"
    print(f"error: training run {run['id']} {run['status']}: {message}", file=sys.stderr)
    return 1


def activation_lines(run: dict) -> list[str]:
    """Whether the run's model serves and why; when it does not, the command that makes it serve."""
    activation = run.get("activation")
    if not activation or run.get("model_version") is None:
        return []
    lines = [f"model version {run['model_version']} {activation_text(activation)}"]
    if activation.get("decision") != "activated":
        lines.append(f"to serve it: salesml activate {run['project_id']} {run['model_version']}")
    return lines


def cmd_runs(client: SalesMLClient, args: argparse.Namespace) -> int:
    if args.run_id is None:
        runs = client.list_runs(args.project_id)
        show(args.output, runs, runs_table(runs))
        return 0
    run = client.get_run(args.project_id, args.run_id)
    lines = [runs_table([run]).text()]
    if run.get("error"):
        lines.append(f"error: {run['error'].get('message')}")
    lines += activation_lines(run)
    leaderboard = leaderboard_table(run.get("leaderboard") or [], run_task(run))
    if run.get("leaderboard"):
        lines += ["", leaderboard.text()]
    show(args.output, run, leaderboard, text="\n".join(lines))
    return 0


def cmd_cancel(client: SalesMLClient, args: argparse.Namespace) -> int:
    run = client.cancel_run(args.project_id, args.run_id)
    show(args.output, run, text=f"training run {run['id']} {run['status']}")
    return 0


def cmd_models(client: SalesMLClient, args: argparse.Namespace) -> int:
    if args.version is None:
        models = client.list_models(args.project_id)
        show(args.output, models, models_table(models))
        return 0
    model = client.get_model(args.project_id, args.version)
    if args.metrics:
        metrics = metrics_table(model)
        show(args.output, model.get("metrics"), metrics, text=metrics.text())
    else:
        show(args.output, model, features_table(model), text=model_text(model))
    return 0


def cmd_activate(client: SalesMLClient, args: argparse.Namespace) -> int:
    model = client.activate_model(args.project_id, args.version)
    text = f"model version {model['version']} ({model['algorithm']}) now serves project {args.project_id}"
    show(args.output, model, text=text)
    return 0


def cmd_predict(client: SalesMLClient, args: argparse.Namespace) -> int:
    if args.input is not None and not is_json_input(args.input):
        source = Path(args.input)
        if args.output_file is not None:
            file_kind(args.output_file)  # a suffix it cannot write is refused before the rows are sent
            client.predict_file_to(args.project_id, source, args.output_file, args.version, csv_dialect(args))
            show(args.output, None, text=f"wrote predictions to {args.output_file}")
        else:
            records = client.predict_file(args.project_id, source, args.version, csv_dialect(args))
            show(args.output, records, records_table(records, last="prediction"))
        return 0
    features = load_json_features(args.input) if args.input is not None else parse_feature_pairs(args.features)
    answer = client.predict(args.project_id, features, version=args.version, explain=args.explain)
    print_warnings(answer)
    if isinstance(features, list):
        rows = [{**row, "prediction": value} for row, value in zip(features, answer["predictions"], strict=True)]
        explanations = answer.get("explanations") or []
        lines = [records_table(rows, last="prediction").text(), f"(model version {answer.get('model_version')})"]
        lines += [f"\nrow {index}: {explanation_text(e)}" for index, e in enumerate(explanations, start=1)]
    else:
        rows = [{**features, "prediction": answer["prediction"]}]
        explanations = [answer["explanation"]] if answer.get("explanation") else []
        lines = [f"prediction: {answer['prediction']:.4f} (model version {answer.get('model_version')})"]
        lines += [explanation_text(e) for e in explanations]
    table = explained_rows_table(rows, explanations) if explanations else records_table(rows, last="prediction")
    show(args.output, answer, table, text="\n".join(lines))
    return 0


def print_warnings(answer: dict) -> None:
    for warning in answer.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_forecast(client: SalesMLClient, args: argparse.Namespace) -> int:
    body = forecast_request(args, csv_dialect(args))
    if args.output_file is not None:
        file_kind(args.output_file)  # a suffix it cannot write is refused before the request
        client.forecast_to(args.project_id, body, args.output_file, args.version, csv_dialect(args))
        show(args.output, None, text=f"wrote the forecast to {args.output_file}")
        return 0
    answer = client.forecast(args.project_id, body, version=args.version)
    table = records_table(answer["forecasts"])  # series columns, date, forecast, lower/upper 80 and 95
    text = (
        f"{table.text()}\n(model version {answer.get('model_version')}: {answer.get('horizon')} periods of "
        f"{answer.get('frequency')} after each series' last date)"
    )
    show(args.output, answer, table, text=text)
    return 0


def cmd_what_if(client: SalesMLClient, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"base": parse_feature_pairs(args.features), "vary": args.vary}
    if args.revenue_of is not None:
        body["revenue_of"] = args.revenue_of
    answer = client.what_if(args.project_id, body, version=args.version)
    print_warnings(answer)
    table = records_table(answer["points"])  # the varied columns, prediction (and revenue)
    lines = [table.text()]
    if answer.get("best"):
        lines.append(best_point_text(answer["best"]))
    lines.append(f"(model version {answer.get('model_version')})")
    show(args.output, answer, table, text="\n".join(lines))
    return 0


def cmd_actuals(client: SalesMLClient, args: argparse.Namespace) -> int:
    source = args.file_or_report
    if source is None:
        reports = client.list_actuals(args.project_id)
        show(args.output, reports, actuals_table(reports))
        return 0
    if INTEGER.fullmatch(source):
        report = client.get_actuals(args.project_id, int(source))
    elif is_json_input(source):
        report = client.send_actual_records(args.project_id, load_rows(source, csv_dialect(args)))
    else:
        report = client.send_actuals(args.project_id, Path(source), csv_dialect(args))
    show(args.output, report, actuals_metrics_table(report), text=actuals_text(report))
    return 0


def is_json_input(name: str) -> bool:
    return name == "-" or name.lower().endswith(".json")


def cmd_sample(client: SalesMLClient, args: argparse.Namespace) -> int:
    table = sample_table(args.name, rows=args.rows, seed=args.seed)
    write_table(table, args.file, csv_dialect(args))
    show(
        args.output,
        None,
        text=f"wrote {table.num_rows} rows of {args.name} to {args.file}: {', '.join(table.column_names)}",
    )
    return 0


# --- parser -----------------------------------------------------------------------------------------------------


class CommandParser(argparse.ArgumentParser):
    """A parser whose commands take their options anywhere among their arguments.

    Plain argparse stops filling positionals at the first option: `predict 14 --version 2 price=150` leaves
    `price=150` over. A command without sub-commands therefore parses intermixed (`parse_known_intermixed_args`,
    which itself calls `parse_known_args`, hence the guard).
    """

    _parsing_intermixed = False

    def parse_known_args(self, args=None, namespace=None):
        if self._subparsers is not None or self._parsing_intermixed:
            return super().parse_known_args(args, namespace)
        self._parsing_intermixed = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing_intermixed = False


def option_parents() -> dict[str, argparse.ArgumentParser]:
    """Options shared by several commands. Their defaults are set once on the top parser (SUPPRESS here), so a
    command's parser does not overwrite an option given before the command (`salesml --url X whoami`)."""
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument(
        "--url", default=argparse.SUPPRESS, help=f"the SalesML gateway (default: ${URL_ENV} or {DEFAULT_URL})"
    )

    json_only = argparse.ArgumentParser(add_help=False)
    add_output_flag(json_only, "json", "print the API's JSON")
    json_or_csv = argparse.ArgumentParser(add_help=False)
    formats = json_or_csv.add_mutually_exclusive_group()
    add_output_flag(formats, "json", "print the API's JSON")
    add_output_flag(formats, "csv", "print the table's rows as CSV")

    csv_format = argparse.ArgumentParser(add_help=False)
    csv_format.add_argument(
        "--sep",
        type=parse_separator,
        default=argparse.SUPPRESS,
        help="CSV field separator: ';', ',', tab or '|' (default: detected when reading, ',' when writing)",
    )
    csv_format.add_argument(
        "--decimal",
        choices=DECIMALS,
        default=argparse.SUPPRESS,
        metavar="MARK",
        help="CSV decimal mark, '.' or ',' (default: detected when reading, '.' when writing)",
    )
    return {"url": url, "json": json_only, "json-csv": json_or_csv, "dialect": csv_format}


def add_output_file(parser: argparse.ArgumentParser, text: str, required: bool = False) -> None:
    parser.add_argument("--output", dest="output_file", type=Path, metavar="FILE", required=required, help=text)


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", type=int, help="model version to use (default: the active one)")


def add_output_flag(options: Any, name: str, text: str) -> None:
    options.add_argument(
        f"--{name}", dest="output", action="store_const", const=name, default=argparse.SUPPRESS, help=text
    )


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="salesml", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV, DEFAULT_URL),
        help=f"the SalesML gateway (default: ${URL_ENV} or {DEFAULT_URL})",
    )
    parser.set_defaults(output=None, sep=None, decimal=None)
    parents = option_parents()
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, text: str, options: Sequence[str] = (), **kwargs: Any) -> CommandParser:
        added = commands.add_parser(name, help=text, parents=[parents["url"], *(parents[o] for o in options)], **kwargs)
        added.set_defaults(handler=handler)
        return added

    register = command("register", cmd_register, "create a user", ["json"])
    login = command("login", cmd_login, "log in and keep the tokens for the next commands")
    for account in (register, login):
        account.add_argument("username")
        account.add_argument("--password", help=f"(default: ${PASSWORD_ENV}, else asked for)")
    command("logout", cmd_logout, "revoke and forget the stored tokens")
    command("whoami", cmd_whoami, "show the logged-in user", ["json"])

    projects = command("projects", cmd_projects, "list, create or delete projects", ["json-csv"])
    project_commands = projects.add_subparsers(dest="projects_command", metavar="{list,create,delete}")
    project_commands.add_parser(
        "list", help="list your projects (the default)", parents=[parents["url"], parents["json-csv"]]
    )
    create = project_commands.add_parser("create", help="create a project", parents=[parents["url"], parents["json"]])
    create.add_argument("name")
    create.add_argument("--target", help="the column to predict (default: sales)")
    create.add_argument("--description")
    delete = project_commands.add_parser(
        "delete", help="delete a project with its data and models", parents=[parents["url"]]
    )
    delete.add_argument("project_id", type=int)

    upload = command(
        "upload", cmd_upload, "upload a dataset (.parquet; .csv or .xlsx are converted to parquet)", ["json", "dialect"]
    )
    upload.add_argument("project_id", type=int)
    upload.add_argument("file", type=Path)

    datasets = command("datasets", cmd_datasets, "list a project's datasets", ["json-csv"])
    datasets.add_argument("project_id", type=int)

    preview = command("preview", cmd_preview, "show the first rows of a dataset", ["json-csv"])
    preview.add_argument("project_id", type=int)
    preview.add_argument("dataset_id", nargs="?", metavar="DATASET_ID", help="(default: the latest dataset)")
    preview.add_argument("--limit", type=int, help="rows to show (default 20)")

    download = command(
        "download",
        cmd_download,
        "save a dataset's stored file (.parquet as stored; .csv or .xlsx converted)",
        ["dialect"],
    )
    download.add_argument("project_id", type=int)
    download.add_argument("dataset_id", nargs="?", metavar="DATASET_ID", help="(default: the latest dataset)")
    add_output_file(download, "where to save it: .parquet, .csv or .xlsx", required=True)

    train = command(
        "train",
        cmd_train,
        "start a training run (AutoML over the project's latest dataset)",
        ["json"],
        epilog="example: salesml train 1 --task forecast --date month --series store --horizon 6 --wait",
    )
    train.add_argument("project_id", type=int)
    train.add_argument(
        "--task", choices=TASKS, help="regression (rows → a number, the default) or forecast (series → next periods)"
    )
    train.add_argument(
        "--include",
        type=parse_model_ids,
        help="model ids to compare, e.g. lr,ridge,rf,lightgbm (forecast: naive,snaive,mean,ets,arima,theta,ensemble "
        "and regression ids as global models on lags)",
    )
    train.add_argument("--exclude", type=parse_model_ids, help="model ids to leave out")
    train.add_argument("--folds", type=int, help="regression: cross-validation folds, 2-10 (default 5)")
    train.add_argument("--sort", choices=SORT_METRICS, help="metric that ranks the models (default R2; forecast: MASE)")
    train.add_argument("--time-budget", type=int, metavar="SECONDS", help="time budget for comparing models")
    train.add_argument("--target", help="column to predict (default: the project's)")
    train.add_argument("--dataset", metavar="DATASET_ID", help="dataset to train on (default: latest)")
    train.add_argument("--seed", type=int)
    train.add_argument(
        "--activate",
        choices=ACTIVATION_MODES,
        help="if_better (default): the new model serves only if it beats the serving one on the new run's holdout; "
        "always; never",
    )
    forecasting = train.add_argument_group("forecast (with --task forecast)")
    forecasting.add_argument("--date", metavar="COLUMN", help="the date column (default: the one date-like column)")
    forecasting.add_argument(
        "--series", action="append", metavar="COLUMN", help="one series per value of this column (repeatable)"
    )
    forecasting.add_argument("--horizon", type=int, metavar="N", help="periods to forecast (default by frequency)")
    forecasting.add_argument(
        "--frequency", metavar="F", help="D, W-<DAY>, MS/M, QS/Q or YS/Y (default: inferred from the dates)"
    )
    forecasting.add_argument(
        "--known-future",
        action="append",
        metavar="COLUMN",
        help="a column whose future values you will supply, e.g. a promotion (repeatable)",
    )
    forecasting.add_argument(
        "--backtest-windows", type=int, metavar="N", help="rolling-origin backtest windows, 1-10 (default 3)"
    )
    train.add_argument("--wait", action="store_true", help="show progress until the run ends, then the leaderboard")

    runs = command(
        "runs",
        cmd_runs,
        "list a project's training runs, or show one with its leaderboard (--csv: the leaderboard)",
        ["json-csv"],
    )
    runs.add_argument("project_id", type=int)
    runs.add_argument("run_id", type=int, nargs="?")

    cancel = command("cancel", cmd_cancel, "cancel a queued or running training run", ["json"])
    cancel.add_argument("project_id", type=int)
    cancel.add_argument("run_id", type=int)

    models = command(
        "models",
        cmd_models,
        "list a project's model versions, or show one: metrics, features, importance (--csv: the features; "
        "with --metrics: the metrics)",
        ["json-csv"],
    )
    models.add_argument("project_id", type=int)
    models.add_argument("version", type=int, nargs="?")
    models.add_argument(
        "--metrics", action="store_true", help="only the version's metrics (with --csv: a row per metric)"
    )

    activate = command(
        "activate", cmd_activate, "make a model version serve predictions (promote or roll back)", ["json"]
    )
    activate.add_argument("project_id", type=int)
    activate.add_argument("version", type=int)

    predict = command(
        "predict",
        cmd_predict,
        "predict from FEATURE=VALUE pairs or a file of rows (.parquet, .csv, .xlsx or .json)",
        ["json-csv", "dialect"],
        epilog="example: salesml predict 1 price=150 promotion=1 product=Creatina weekday=Saturday",
    )
    predict.add_argument("project_id", type=int)
    predict.add_argument("features", nargs="*", metavar="FEATURE=VALUE", help="one row; numbers are parsed")
    predict.add_argument(
        "--input",
        metavar="FILE",
        help="rows to predict: .parquet, .csv, .xlsx, or .json (an object, a list of objects; '-': stdin)",
    )
    add_output_file(predict, "write the rows + prediction here (.parquet, .csv, .xlsx)")
    add_version(predict)
    predict.add_argument(
        "--explain",
        action="store_true",
        help="also say why: the baseline and each feature's effect, in target units (pairs or JSON rows only)",
    )

    forecast = command(
        "forecast",
        cmd_forecast,
        "forecast the next periods of a forecast model's series, with 80%% and 95%% intervals",
        ["json-csv", "dialect"],
        epilog="example: salesml forecast 1 --horizon 3 --series store=S1 --series store=S2",
    )
    forecast.add_argument("project_id", type=int)
    forecast.add_argument("--horizon", type=int, metavar="N", help="periods ahead (default and maximum: the model's)")
    forecast.add_argument(
        "--series",
        action="append",
        nargs="+",
        metavar="COLUMN=VALUE",
        help="one series, by its series columns' values (repeat for more; default: every series)",
    )
    forecast.add_argument(
        "--future",
        metavar="FILE",
        help="known-future values: rows with the series columns, the date and those columns (.parquet, .csv, .xlsx "
        "or .json)",
    )
    add_output_file(forecast, "write the forecast here (.parquet, .csv, .xlsx)")
    add_version(forecast)

    what_if = command(
        "what-if",
        cmd_what_if,
        "predict one row as one or two columns vary: a curve (or grid), and the best revenue with --revenue-of",
        ["json-csv"],
        epilog="example: salesml what-if 1 product=Creatina promotion=0 weekday=Saturday --vary price=50:350:31 "
        "--revenue-of price",
    )
    what_if.add_argument("project_id", type=int)
    what_if.add_argument("features", nargs="*", metavar="FEATURE=VALUE", help="the other features of the row")
    what_if.add_argument(
        "--vary",
        action="append",
        required=True,
        type=parse_vary,
        metavar="COLUMN=FROM:TO:STEPS|COLUMN=V1,V2,...",
        help="a column to vary over a range (both ends, STEPS points) or a list of values (once or twice)",
    )
    what_if.add_argument("--revenue-of", metavar="COLUMN", help="the price column: revenue = price × prediction")
    add_version(what_if)

    actuals = command(
        "actuals",
        cmd_actuals,
        "check the serving model against what really sold: send a file of actuals (the report), or list the reports "
        "or show one",
        ["json-csv", "dialect"],
        epilog="example: salesml actuals 1 sold_last_month.csv",
    )
    actuals.add_argument("project_id", type=int)
    actuals.add_argument(
        "file_or_report",
        nargs="?",
        metavar="FILE|REPORT_ID",
        help="rows with the features (or series and date) and the true target (.parquet, .csv, .xlsx or .json), or "
        "a report's id (default: list the reports)",
    )

    sample = command(
        "sample", cmd_sample, "write an example file (.parquet, .csv or .xlsx, by its suffix)", ["dialect"]
    )
    sample.add_argument(
        "name", choices=sorted(SAMPLES), help="; ".join(f"{n}: {s.description}" for n, s in SAMPLES.items())
    )
    sample.add_argument("file", type=Path)
    sample.add_argument(
        "--rows",
        type=int,
        help="how many rows (default: 2000 to train on, 10 to score); store-sales: months of each store (default 48)",
    )
    sample.add_argument("--seed", type=int, help="seed of the generated values")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "predict":
        if bool(args.features) == (args.input is not None):
            parser.error("predict: give FEATURE=VALUE pairs or --input FILE (exactly one)")
        if args.output_file is not None and (args.input is None or is_json_input(args.input)):
            parser.error("predict: --output needs --input FILE (.parquet, .csv or .xlsx)")
        if args.explain and args.input is not None and not is_json_input(args.input):
            parser.error("predict: --explain takes FEATURE=VALUE pairs or JSON rows, not a .parquet/.csv/.xlsx file")
    if args.command in ("predict", "what-if"):
        try:
            parse_feature_pairs(args.features)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{args.command}: {exc}")
    if args.command == "forecast":
        try:
            for pairs in args.series or []:
                parse_feature_pairs(pairs)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"forecast: --series {exc}")
    if args.command == "models" and args.metrics and args.version is None:
        parser.error("models: --metrics needs a VERSION")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client = SalesMLClient(args.url)
    try:
        return args.handler(client, args)
    except BrokenPipeError:
        # Our output's reader has gone (`salesml projects | head -1`): nothing more to say, and nothing at exit
        # either, where flushing what is left in the buffers would fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
        return CLOSED_OUTPUT_STATUS
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
