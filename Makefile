# Every target creates .venv and installs the package first, so each one works on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser test demo lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The UI test drives Debian's chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# The Celery cluster first, alone: its waits are timed, and a busy neighbour made them miss. Then everything else on
# one pytest-xdist worker per core (at most 4); tests sharing costly fixtures keep to one (tests/conftest.py).
# Both always run; the target fails when either does.
test: $(STAMP) browser
	$(BIN)/python -m pytest tests/distributed; cluster=$$?; \
	$(BIN)/python -m pytest --numprocesses auto --maxprocesses 4 --ignore tests/distributed; rest=$$?; \
	exit $$(( cluster || rest ))

# The stories through the CLI (embedded DuckDB), then every example DAG under a real Airflow 3.3.
demo: $(STAMP)
	$(BIN)/retrain-gate demo --path demo_home/retrain_gate_demo.duckdb
	$(BIN)/python -m airflow_retrain_gate.demo.airflow_demo

lint: $(STAMP)
	$(BIN)/ruff check airflow_retrain_gate tests dags_examples benchmarks
	$(BIN)/ruff format --check airflow_retrain_gate tests dags_examples benchmarks
	$(BIN)/mypy

# The stories on a real Spark SQL engine: starts Spark's Thrift server from the pyspark package (local-cluster,
# 2 executors; needs Java 17), loads every story as Parquet tables, runs `retrain-gate diagnose` on each, stops it.
.PHONY: spark-demo
spark-demo: $(STAMP)
	$(BIN)/python -m airflow_retrain_gate.demo.spark_demo

# Runs every example DAG once (the branch each gate took is printed), then serves the runs in the Airflow UI
# (`airflow standalone` on ./demo_home/airflow, http://localhost:8080; it prints the admin login).
.PHONY: airflow-ui screenshots
airflow-ui: $(STAMP)
	$(BIN)/python -m airflow_retrain_gate.demo.airflow_demo --standalone

# The README's screenshots (docs/ui-*.png, docs/notification-email.png), taken in headless chromium from the
# demo's runs.
screenshots: $(STAMP) browser
	$(BIN)/python -m airflow_retrain_gate.demo.airflow_demo
	$(BIN)/python tests/plugins/readme_screenshots.py
	$(BIN)/python tests/plugins/notification_screenshot.py

# Benchmarks (benchmarks/README.md): bench-quick is CI-sized (100k rows); bench runs 1M, 10M, 100M (30-45 min on
# 2 cores, ~25 GB free disk) and rewrites the README's results table and benchmarks/bench.png; then the wide
# (25, 100, 300 columns) and high-cardinality (1M distinct values) shapes at 1M rows (benchmarks/shapes.py), and a
# full policy's cold and steady daily runs at 5M entities (benchmarks/full_policy.py).
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.run --sizes quick

bench: $(STAMP)
	nice -n 10 $(BIN)/python -m benchmarks.run --sizes full
	nice -n 10 $(BIN)/python -m benchmarks.shapes
	nice -n 10 $(BIN)/python -m benchmarks.full_policy
