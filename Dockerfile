# syntax=docker/dockerfile:1
# One image for every SalesML process. docker/start.sh <role> picks what a container runs; docker-compose.yml
# gives each service its role (gateway, projects, trainer, predictor, worker, migrate, dask-scheduler, dask-worker).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg \
    SALESML_VAR_DIR=/home/salesml/var

# LightGBM (one of PyCaret's models) links against the GNU OpenMP runtime, which the slim image lacks.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 salesml \
    && useradd --system --uid 10001 --gid salesml --create-home --home-dir /home/salesml \
        --shell /usr/sbin/nologin salesml

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir --requirement requirements.lock

# .dockerignore is an allow-list: only shared/, services/, gateway/, demo/ (when present), docker/, gunicorn.conf.py and
# pyproject.toml get here. The code stays owned by root, so the service user cannot change it.
COPY . .
RUN python -m compileall -q shared services gateway \
    && chmod 0755 docker/start.sh docker/healthcheck.py

USER 10001:10001

EXPOSE 8000 8001 8002 8003 8004
ENTRYPOINT ["/app/docker/start.sh"]
CMD ["gateway"]
