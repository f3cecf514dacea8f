# SalesML: `make run` starts the platform on the embedded default, `make test` runs the tests, `make stack` starts the
# production shape without Docker (the local PostgreSQL, SeaweedFS as S3, gunicorn as in the containers, two training
# workers, real secrets in ./var; scripts/run_stack.sh).
# They create .venv and install the pinned dependencies themselves: requirements.lock (what the platform runs on,
# all the Docker image gets) and requirements-dev.lock (test and development tools).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: venv run stack test test-stack lint format migrate up lock clean

venv: $(INSTALLED)

$(INSTALLED): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

run: venv
	SALESML_DEV_MODE=1 PY=$(PY) exec ./scripts/run_local.sh

stack: venv
	PY=$(PY) exec ./scripts/run_stack.sh

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# The end-to-end tests (those on the platform fixture) against `make stack`, the production shape, instead of the
# harness's own processes; the few that restart one process skip there, saying so.
test-stack: venv
	$(PY) -m pytest --platform=stack $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: venv
	$(PY) -m shared.migrate

up:
	docker compose up --build

# Re-resolve the pins (run by hand, then commit both locks): the runtime set from requirements.in, then the tools of
# requirements-dev.in constrained by it, so that a tool never moves a runtime pin.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements.in
	.lock-venv/bin/pip freeze --exclude-editable | sort > requirements.lock
	.lock-venv/bin/pip install --quiet -c requirements.lock -r requirements-dev.in
	( echo "# Development and test tools pinned on top of requirements.lock (make lock regenerates both)."; \
	  .lock-venv/bin/pip freeze --exclude-editable | sort | comm -13 requirements.lock - ) > requirements-dev.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# Against a running platform (`make run` in another terminal): register a demo user, upload the supplements
# example, train with a progress bar and answer "how many Creatina at R$150 on Saturday?"; then forecast the next
# six months of three stores from their monthly sales.
URL ?= http://localhost:8000
.PHONY: demo
demo: venv
	$(PY) scripts/demo.py --url $(URL)

# Benchmark (not a test): starts its own platform on free ports with a throwaway PostgreSQL database on
# 127.0.0.1:5432, measures latency, throughput, parquet scoring, training and accuracy, and writes
# docs/BENCHMARK.md (about 15 minutes on 2 cores). BENCH_ARGS=--quick for a one-minute smoke run.
.PHONY: bench
bench: venv
	$(PY) -m bench.run $(BENCH_ARGS)
