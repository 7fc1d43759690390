# GridOps set-up. `make run` and `make test` install what is missing and are safe to run again.
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  ?= python3
STAMP   := $(VENV)/.installed-stamp

.PHONY: run test setup system venv web lint bench clean-db

run: setup
	$(BIN)/gridops db start
	$(BIN)/gridops migrate
	$(BIN)/gridops demo load
	$(BIN)/gridops serve --host 127.0.0.1 --port 8000

test: setup
	$(BIN)/pytest

setup: system venv web

system:
	@scripts/install-system.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,mobile]'
	touch $(STAMP)

# The web app's MapLibre GL JS and Chart.js, from the npm registry into server/web/node_modules (served from there).
WEB      := server/web
WEB_LOCK := $(wildcard $(WEB)/package-lock.json)

web: $(WEB)/node_modules/.installed-stamp

$(WEB)/node_modules/.installed-stamp: $(WEB)/package.json $(WEB_LOCK)
	npm $(if $(WEB_LOCK),ci,install) --prefix $(WEB) --no-audit --no-fund
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python bench/locate.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/mobile_sync.py
	$(BIN)/python bench/tiles.py
	$(BIN)/python bench/dashboard.py  # about 35 minutes and 25 GB in /tmp: 10,000,000 cases

clean-db:
	-$(BIN)/gridops db stop
	rm -rf var/pg
