# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 4000
export PORT
export FLASK_APP := wsgi.py

.PHONY: run test setup migrate seed bench bench-nchan bench-data bench-rest bench-inprocess clean

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

# The portal against nginx + nchan (the C pub/sub floor), same clients, same run.
NGINX ?= /usr/sbin/nginx
NCHAN_MODULE ?= /usr/lib/nginx/modules/ngx_nchan_module.so
NCHAN_ARGS ?= --targets portal,nchan --clients 20000 --events 10 --interval 2
bench-nchan: setup
	@if [ ! -x "$(NGINX)" ] || [ ! -f "$(NCHAN_MODULE)" ]; then \
		echo "bench-nchan needs nginx ($(NGINX)) and the nchan module ($(NCHAN_MODULE)):"; \
		echo "  apt-get install nginx libnginx-mod-nchan   (or set NGINX=… NCHAN_MODULE=…)"; \
		exit 1; fi
	BENCH_NGINX=$(NGINX) BENCH_NCHAN_MODULE=$(NCHAN_MODULE) \
		$(BIN)/python -m bench.sse_load $(NCHAN_ARGS) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var

# The REST benchmark's dataset and run (PostgreSQL; BENCH_DATABASE_URL=postgresql://…/db).
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/bench
export BENCH_DATABASE_URL

bench-data: setup
	$(BIN)/python -m bench.dataset --database-url $(BENCH_DATABASE_URL)

bench-rest: setup
	$(BIN)/python -m bench.rest --database-url $(BENCH_DATABASE_URL) $(BENCH_ARGS)

bench-inprocess: setup
	$(BIN)/python -m bench.inprocess --database-url $(BENCH_DATABASE_URL) $(BENCH_ARGS)
