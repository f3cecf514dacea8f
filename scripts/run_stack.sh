#!/usr/bin/env bash
# Start the production shape on this machine, without Docker, as `make stack` does: PostgreSQL (the local server, a
# database of its own, made if missing and migrated), SeaweedFS as the S3 object store, the gateway and the three
# services under gunicorn run by docker/start.sh (as the containers run them: the same worker and thread counts),
# and two training workers, in production mode with real secrets. Ctrl-C (or SIGTERM) stops every process it started.
#
#   PY=.venv/bin/python ./scripts/run_stack.sh
#
# Variables read here (the services read the rest, see the README's configuration table):
#   PY               the Python with the project installed (default: .venv/bin/python)
#   DATABASE_URL     postgresql://postgres@127.0.0.1:5432/salesml_stack (the database is made if missing)
#   SALESML_VAR_DIR  ./var: the secrets in stack-secrets.json (made once, readable by you only, reused after)
#   SEAWEEDFS_DIR    SeaweedFS's data, ${SALESML_VAR_DIR}/seaweedfs;  S3_PORT 8333 (127.0.0.1), bucket salesml
#   GATEWAY_HOST     the gateway's bind address (default 127.0.0.1: this machine only)
#   GATEWAY_PORT     8000;  PROJECTS_PORT 8001;  TRAINER_PORT 8002;  PREDICTOR_PORT 8003
#   GUNICORN_WORKERS gunicorn worker processes per service (docker/start.sh's default, as in docker-compose.yml: 2)
#   TRAINING_WORKERS 2;  WORKER_METRICS_PORT 8004: worker N serves its metrics on this port + N - 1 (127.0.0.1)
#   READY_TIMEOUT_S  seconds to wait for each process to be ready (default 120)
# The services and S3 always bind to 127.0.0.1: only the gateway is ever meant to be reached.
# Logs: every process writes to stderr (this terminal); SeaweedFS to ${SEAWEEDFS_DIR}/weed.log.
# Metrics: each service serves /metrics on its port, its samples in ${SALESML_VAR_DIR}/metrics/<name>; each training
# worker on a port of its own (WORKER_METRICS_PORT onwards).
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export SALESML_VAR_DIR=${SALESML_VAR_DIR:-${PWD}/var}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/salesml_stack}
SEAWEEDFS_DIR=${SEAWEEDFS_DIR:-${SALESML_VAR_DIR}/seaweedfs}
S3_PORT=${S3_PORT:-8333}
S3_BUCKET=$("${PY}" -c 'from scripts.stack import BUCKET; print(BUCKET)')
GATEWAY_HOST=${GATEWAY_HOST:-127.0.0.1}
GATEWAY_PORT=${GATEWAY_PORT:-8000}
PROJECTS_PORT=${PROJECTS_PORT:-8001}
TRAINER_PORT=${TRAINER_PORT:-8002}
PREDICTOR_PORT=${PREDICTOR_PORT:-8003}
TRAINING_WORKERS=${TRAINING_WORKERS:-2}
WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-8004}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-120}

export OBJECT_STORE_URL="s3://${S3_BUCKET}"
export S3_ENDPOINT="127.0.0.1:${S3_PORT}"
export PROJECTS_URL="http://127.0.0.1:${PROJECTS_PORT}"
export TRAINER_URL="http://127.0.0.1:${TRAINER_PORT}"
export PREDICTOR_URL="http://127.0.0.1:${PREDICTOR_PORT}"
export PYTHONUNBUFFERED=1

source scripts/processes.sh  # start, wait_until_answers, announce, run_until_one_exits; stops all on exit

start_role() {  # start_role <name> <docker/start.sh role> [<bind address> <port>]: with only its own secrets
    local metrics=()  # a gunicorn server keeps its metrics samples in a folder of its own, as make run's do
    [[ -n "${4:-}" ]] && metrics=(PROMETHEUS_MULTIPROC_DIR="${SALESML_VAR_DIR}/metrics/$1")
    start "$1" env BIND_HOST="${3:-}" PORT="${4:-}" "${metrics[@]}" "${PY}" -m scripts.stack role "$2"
}

# Makes (or reuses) the secrets, then makes (if missing) and migrates the database.
"${PY}" -m scripts.stack prepare --database-url "${DATABASE_URL}"

start s3 "${PY}" -m scripts.stack s3 --dir "${SEAWEEDFS_DIR}" --port "${S3_PORT}" --bucket "${S3_BUCKET}"
start_role projects projects 127.0.0.1 "${PROJECTS_PORT}"
start_role trainer trainer 127.0.0.1 "${TRAINER_PORT}"
start_role predictor predictor 127.0.0.1 "${PREDICTOR_PORT}"
for number in $(seq 1 "${TRAINING_WORKERS}"); do
    WORKER_METRICS_ADDRESS="127.0.0.1:$((WORKER_METRICS_PORT + number - 1))" start_role "worker-${number}" worker
done
# Ready: each service reaches the database, and those that use it the bucket.
wait_until_answers projects "${PROJECTS_URL}/health/ready"
wait_until_answers trainer "${TRAINER_URL}/health/ready"
wait_until_answers predictor "${PREDICTOR_URL}/health/ready"
start_role gateway gateway "${GATEWAY_HOST}" "${GATEWAY_PORT}"
wait_until_answers gateway "http://${GATEWAY_HOST/#0.0.0.0/127.0.0.1}:${GATEWAY_PORT}/health/ready"

announce "${GATEWAY_PORT}" \
    "mode       production: secrets in ${SALESML_VAR_DIR}/stack-secrets.json (readable by you only)" \
    "database   PostgreSQL ${DATABASE_URL##*@}" \
    "S3         SeaweedFS on http://${S3_ENDPOINT}, bucket ${S3_BUCKET}, data in ${SEAWEEDFS_DIR}" \
    "services   projects ${PROJECTS_URL}, trainer ${TRAINER_URL}, predictor ${PREDICTOR_URL} (reached via the gateway)" \
    "training   ${TRAINING_WORKERS} workers, metrics at http://127.0.0.1:${WORKER_METRICS_PORT}/metrics onwards"
run_until_one_exits
