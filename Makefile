# GridOps set-up. `make run` and `make test` install what is missing and are safe to run again.
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  ?= python3
STAMP   := $(VENV)/.installed-stamp

.PHONY: run test setup system venv web lint bench screenshots clean-db

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

# The README's pictures: the page and app tests, saving their screenshots into docs/screenshots (a plain
# `make test` saves them under var/screenshots, never into tracked files).
screenshots: setup
	GRIDOPS_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/web tests/mobile/test_screens.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# `make bench` runs every benchmark, each writing its figures to var/bench/results/NAME.json, then writes
# docs/PERFORMANCE.md from them (bench/report.py). BENCH_SCALE=full (the benchmarks' own sizes: about an hour,
# of which the dashboard's 10,000,000 cases take 35 minutes and 25 GB in /tmp) or small (about 10 minutes).
# A benchmark that fails leaves NAME.failed; the report names it and make then fails. Needs root (the fault
# drill mounts a tmpfs for its media store).
BENCH_SCALE ?= full
BENCH_OUT   := var/bench/results
BENCHES     := locate intake mobile_sync tiles dashboard search addresses triage faults
locate_small      := --points 2000 --repeat 3 --api-requests 300
intake_small      := --clients 8 --reports 400 --photo-reports 80 --repeat 3
mobile_sync_small := --reports 100 --repeat 3
tiles_small       := --cases 100000 --rounds 3
dashboard_small   := --cases 200000
search_small      := --cases 100000 --queries 20
addresses_small   := --addresses 100000 --queries 20
triage_small      := --cases 100000
faults_small      := --seconds 120

bench: setup
	@test "$(BENCH_SCALE)" = full -o "$(BENCH_SCALE)" = small || { echo "BENCH_SCALE is full or small"; exit 2; }
	mkdir -p $(BENCH_OUT) && rm -f $(BENCH_OUT)/*.json $(BENCH_OUT)/*.failed
	$(foreach b,$(BENCHES),$(BIN)/python bench/$(b).py $(if $(filter small,$(BENCH_SCALE)),$($(b)_small)) \
		--json $(BENCH_OUT)/$(b).json || touch $(BENCH_OUT)/$(b).failed;)
	$(BIN)/python bench/report.py --scale $(BENCH_SCALE) $(BENCH_OUT)

clean-db:
	-$(BIN)/gridops db stop
	rm -rf var/pg
