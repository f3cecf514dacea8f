#!/usr/bin/env bash
# Start the whole platform as local processes on the embedded default (SQLite file and ./var/objects), as `make run`
# does: migrate, then the projects, trainer and predictor services and the gateway under gunicorn, plus the trainer
# worker. Ctrl-C (or SIGTERM) stops every process it started.
#
#   SALESML_DEV_MODE=1 PY=.venv/bin/python ./scripts/run_local.sh
#
# Variables read here (the services read the rest, see the README's configuration table):
#   PY              the Python with the project installed (default: .venv/bin/python)
#   GATEWAY_HOST    the gateway's bind address (default 127.0.0.1: this machine only). Dev mode refuses any other
#                   address unless JWT_SECRET_KEY, INTERNAL_TOKEN_SECRET and MODEL_SIGNING_KEY are all set.
#   GATEWAY_PORT    8000;  PROJECTS_PORT 8001;  TRAINER_PORT 8002;  PREDICTOR_PORT 8003
#   WORKER_METRICS_PORT  8004: where the training worker serves its Prometheus metrics (127.0.0.1)
#   WEB_WORKERS     gunicorn worker processes per service (default 2), WEB_THREADS threads per worker (default 8)
#   READY_TIMEOUT_S seconds to wait for each /health (default 120)
# The services always bind to 127.0.0.1: only the gateway is ever meant to be reached.
# Secrets: in dev mode (SALESML_DEV_MODE=1, as `make run` sets it) a secret not set in the environment comes from
# ${SALESML_VAR_DIR:-./var}/dev-secrets.json, made with random secrets the first time and reused after (shared/dev_secrets.py).
# gunicorn's shared settings (request limits) are in gunicorn.conf.py.
# Metrics: each service serves /metrics on its port; each gunicorn server keeps its samples in a folder of its own,
# ${SALESML_VAR_DIR:-./var}/metrics/<name>, emptied when it starts.
# Logs: every process writes JSON lines to stderr (this terminal).
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
GATEWAY_HOST=${GATEWAY_HOST:-127.0.0.1}
GATEWAY_PORT=${GATEWAY_PORT:-8000}
PROJECTS_PORT=${PROJECTS_PORT:-8001}
TRAINER_PORT=${TRAINER_PORT:-8002}
PREDICTOR_PORT=${PREDICTOR_PORT:-8003}
WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-8004}
METRICS_DIR=${SALESML_VAR_DIR:-./var}/metrics
WEB_WORKERS=${WEB_WORKERS:-2}
WEB_THREADS=${WEB_THREADS:-8}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-120}

export PROJECTS_URL="http://127.0.0.1:${PROJECTS_PORT}"
export TRAINER_URL="http://127.0.0.1:${TRAINER_PORT}"
export PREDICTOR_URL="http://127.0.0.1:${PREDICTOR_PORT}"
export PYTHONUNBUFFERED=1

source scripts/processes.sh  # start, wait_until_answers, announce, run_until_one_exits; stops all on exit

start_web() {  # start_web <name> <host> <port> <app factory>
    start "$1" env PROMETHEUS_MULTIPROC_DIR="${METRICS_DIR}/$1" \
        "${PY}" -m gunicorn --config gunicorn.conf.py --bind "$2:$3" --worker-class gthread \
        --workers "${WEB_WORKERS}" --threads "${WEB_THREADS}" --timeout 120 --graceful-timeout 10 --no-control-socket "$4"
}

# Says which mode runs, makes (or reuses) the dev secrets, and refuses a non-loopback gateway in dev mode.
"${PY}" -m shared.dev_secrets --gateway-host "${GATEWAY_HOST}"
"${PY}" -m shared.migrate

start_web projects 127.0.0.1 "${PROJECTS_PORT}" "services.projects:create_app()"
start_web trainer 127.0.0.1 "${TRAINER_PORT}" "services.trainer:create_app()"
start_web predictor 127.0.0.1 "${PREDICTOR_PORT}" "services.predictor:create_app()"
start worker env WORKER_METRICS_ADDRESS="127.0.0.1:${WORKER_METRICS_PORT}" "${PY}" -m services.trainer.worker
wait_until_answers projects "${PROJECTS_URL}/health"
wait_until_answers trainer "${TRAINER_URL}/health"
wait_until_answers predictor "${PREDICTOR_URL}/health"
start_web gateway "${GATEWAY_HOST}" "${GATEWAY_PORT}" "gateway:create_app()"
wait_until_answers gateway "http://${GATEWAY_HOST/#0.0.0.0/127.0.0.1}:${GATEWAY_PORT}/health"

announce "${GATEWAY_PORT}" \
    "services   projects ${PROJECTS_URL}, trainer ${TRAINER_URL}, predictor ${PREDICTOR_URL} (reached via the gateway)" \
    "metrics    /metrics of each service; the worker's at http://127.0.0.1:${WORKER_METRICS_PORT}/metrics"
run_until_one_exits
