# Two entry points (see README): `make demo` and `make test`. Both set up .venv from scratch if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_HOME ?= $(CURDIR)/.demo-home

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The demo's login (printed below): admin / windvane-demo on http://127.0.0.1:8080/api/v1.
DEMO_USER ?= admin
DEMO_PASSWORD ?= windvane-demo

demo: $(BIN)/.installed
	WINDVANE_HOME=$(DEMO_HOME) $(BIN)/windvane db migrate
	WINDVANE_HOME=$(DEMO_HOME) $(BIN)/windvane users create --role admin --username $(DEMO_USER) \
	  --password $(DEMO_PASSWORD) --exists-ok
	@echo "Demo login: $(DEMO_USER) / $(DEMO_PASSWORD) (admin) on http://127.0.0.1:8080/api/v1/docs"
	WINDVANE_HOME=$(DEMO_HOME) WINDVANE__CORE__DAGS_FOLDER=$(CURDIR)/examples/dags \
	  WINDVANE__METRICS__PROMETHEUS_ON=true $(BIN)/windvane standalone

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
