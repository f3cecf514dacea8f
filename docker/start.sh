#!/bin/sh
# Start one SalesML process in the container: docker/start.sh <role>.
#
#   migrate                              apply every service's Alembic migrations, then exit. docker-compose.yml
#                                        runs it once as the `migrate` service; the app services start only after
#                                        it has succeeded, so two containers never migrate at the same time.
#   gateway | projects | trainer | predictor
#                                        serve that app with gunicorn on its port (PORT overrides it) on every
#                                        address (BIND_HOST overrides it: `make stack` binds the services to 127.0.0.1)
#   worker                               the trainer's background training worker
#   dask-scheduler | dask-worker         the optional Dask cluster (compose profile `dask`)
set -eu

# serve <app factory> <port> <timeout seconds> <threads per process>
# gthread workers: a slow upload, proxied request or batched prediction holds a thread, not a whole process.
# gunicorn.conf.py holds what every server shares (request limits, keep-alive, emptying the metrics folder at
# start).
# PROMETHEUS_MULTIPROC_DIR: the folder where this server's processes keep their metrics samples for /metrics to add
# up; one per server (here, named after its pid).
serve() {
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/salesml-metrics-$$}"
    exec gunicorn "$1" \
        --config "$(dirname "$0")/../gunicorn.conf.py" \
        --bind "${BIND_HOST:-0.0.0.0}:${PORT:-$2}" \
        --workers "${GUNICORN_WORKERS:-2}" \
        --worker-class gthread \
        --threads "$4" \
        --timeout "$3" \
        --graceful-timeout 30 \
        --no-control-socket \
        --worker-tmp-dir /dev/shm \
        --error-logfile -
}

role="${1:-}"
case "$role" in
    migrate)
        exec python -m shared.migrate
        ;;
    gateway)
        # Uploads (up to UPLOAD_MAX_BYTES) stream through the gateway, which waits up to UPLOAD_READ_TIMEOUT_S for them.
        serve "gateway:create_app()" 8000 300 8
        ;;
    projects)
        serve "services.projects:create_app()" 8001 300 8
        ;;
    trainer)
        serve "services.trainer:create_app()" 8002 120 8
        ;;
    predictor)
        # Many threads per process: concurrent requests for one model are batched into one pipeline call.
        serve "services.predictor:create_app()" 8003 120 16
        ;;
    worker)
        exec python -m services.trainer.worker
        ;;
    dask-scheduler)
        # The dashboard port also answers /health (the bokeh dashboard itself is not installed).
        exec dask scheduler --port 8786 --dashboard-address :8787
        ;;
    dask-worker)
        # One thread per worker: PyCaret is not safe to run twice at once in one process.
        exec dask worker "${DASK_SCHEDULER_ADDRESS:?set DASK_SCHEDULER_ADDRESS}" \
            --nthreads 1 --dashboard-address :8789 --local-directory /tmp/dask-worker
        ;;
    *)
        echo "usage: $0 migrate|gateway|projects|trainer|predictor|worker|dask-scheduler|dask-worker" >&2
        exit 64
        ;;
esac
