# replaybook's two entry points (see README): `make play` and `make test`.
# Everything a fresh Linux machine with Docker needs is installed from here:
# the Python environment (.venv), then host tools and the Debian base image via
# `replaybook doctor --fix`, which prints every command it runs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= 001-nginx-502

.PHONY: play test setup venv browser lint unit integration e2e bench clean

$(BIN)/replaybook: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/replaybook

setup: venv
	$(BIN)/replaybook doctor --fix

play: setup
	$(BIN)/replaybook run $(SCENARIO)

# mypy checks the packages under the names they install as: commands/ and hud/ are
# replaybook.commands and .hud, so build/mypy holds a replaybook/ of links to them.
MYPY_TREE := build/mypy/replaybook

lint: venv
	$(BIN)/ruff check .
	mkdir -p $(MYPY_TREE)
	for d in commands hud; do ln -sfn ../../../$$d $(MYPY_TREE)/$$d; done
	MYPYPATH=build/mypy $(BIN)/mypy -p libreplay -p replaybook.commands -p replaybook.hud

# The report's browser test (tests/e2e/test_report_browser.py) opens the page in Debian's
# chromium through Debian's chromium-driver, at these paths. Where either is missing it is
# installed with apt-get (as root, else with sudo), the command printed first on stderr as the
# doctor prints its fixes.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
APT = $(SUDO)env DEBIAN_FRONTEND=noninteractive apt-get
APT_BROWSER = $(APT) update && $(APT) install -y chromium chromium-driver
SUDO = $(if $(filter 0,$(shell id -u)),,sudo )

browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then :; else \
	  echo '$$ $(APT_BROWSER)' >&2; \
	  $(APT_BROWSER); \
	fi

test: setup lint browser
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit tests/cli

bench: setup
	$(BIN)/python benchmarks/detection_latency.py
	$(BIN)/python benchmarks/idle_cost.py
	$(BIN)/python benchmarks/hud_detection.py
	$(BIN)/python benchmarks/hud_memory.py
	$(BIN)/python benchmarks/cli_startup.py --every-help
	$(BIN)/python benchmarks/list_catalogue.py
	$(BIN)/python benchmarks/parallel_test.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/report_big_ledger.py
	$(BIN)/python benchmarks/progress_commands.py

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
