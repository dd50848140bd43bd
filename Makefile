# Two entry points (see README): `make demo` and `make test`. Both set up .venv from scratch if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_HOME ?= $(CURDIR)/.demo-home

.PHONY: demo test test-min lint bench clean ui screenshots
MIN_VENV ?= .venv-min

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The demo's login (printed below): admin / windvane-demo; the UI at http://127.0.0.1:8080/ui/.
DEMO_USER ?= admin
DEMO_PASSWORD ?= windvane-demo

demo: $(BIN)/.installed
	WINDVANE_HOME=$(DEMO_HOME) $(BIN)/windvane db migrate
	WINDVANE_HOME=$(DEMO_HOME) $(BIN)/windvane users create --role admin --username $(DEMO_USER) \
	  --password $(DEMO_PASSWORD) --exists-ok
	@echo "Demo login: $(DEMO_USER) / $(DEMO_PASSWORD) (admin). UI: http://127.0.0.1:8080/ui/  API: http://127.0.0.1:8080/api/v1/docs"
	WINDVANE_HOME=$(DEMO_HOME) WINDVANE__CORE__DAGS_FOLDER=$(CURDIR)/examples/dags \
	  WINDVANE__METRICS__PROMETHEUS_ON=true $(BIN)/windvane standalone

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m windvane.cli.reference --check

# The lowest versions pyproject.toml admits (constraints/minimum.txt), in a venv of their own: the
# behaviours that set the bounds (tests/test_dependency_floors.py) and a fast subset that touches each.
test-min:
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/pip install --quiet -e '.[dev]' -c constraints/minimum.txt
	$(MIN_VENV)/bin/pip freeze | grep -i -E '^(pendulum|croniter|jinja2|sqlalchemy|alembic|rich|prometheus.client|aiosmtplib|slack.sdk|httpx|psycopg|cryptography|fastapi|uvicorn|argon2.cffi|celery|kombu|redis|pymysql)=='
	$(MIN_VENV)/bin/pytest -q -p no:randomly tests/test_dependency_floors.py tests/core/timetables \
	  tests/store tests/cli/test_main.py tests/cli/test_dags.py tests/cli/test_pipes.py tests/cli/test_import_time.py \
	  tests/cli/test_quick_read.py tests/cli/test_box_table.py \
	  tests/alerting/test_email_channel.py tests/alerting/test_slack_channel.py tests/alerting/test_webhook_channel.py \
	  tests/metrics/test_prometheus.py tests/secrets/test_fernet.py tests/secrets/test_cli_commands.py \
	  tests/api/test_auth.py tests/api/test_server.py tests/api/test_dags_runs.py tests/io_operators/test_sql_operator.py \
	  tests/celery_executor/test_contract.py

test: lint
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(MIN_VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache

# The browser UI: ui/ (plain ES modules, dagre from npm) built by vite into the Python package's
# src/windvane/api/ui/static, which is committed, so installing Windvane needs no Node. `npm ci`
# installs exactly ui/package-lock.json.
ui:
	cd ui && npm ci --no-audit --no-fund && npx vite build

# docs/img/*.png for docs/ui.md, taken by the browser tests (tests/ui) as they go.
screenshots: $(BIN)/.installed
	WINDVANE_UI_SCREENSHOTS=1 $(BIN)/pytest tests/ui -q -p no:randomly
