# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 4000
export PORT
export FLASK_APP := wsgi.py

.PHONY: run test setup migrate seed bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed

migrate: setup
	@mkdir -p var
	$(BIN)/flask db upgrade heads

seed: migrate
	$(BIN)/flask seed --if-empty

run: seed
	@scripts/run.sh

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench.sse_load $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
