# replaybook's two entry points (see README): `make play` and `make test`.
# Everything a fresh Linux machine with Docker needs is installed from here:
# the Python environment (.venv), then host tools and the Debian base image via
# `replaybook doctor --fix`, which prints every command it runs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= 001-nginx-502

.PHONY: play test setup test-setup venv lint unit integration e2e bench clean

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
	for d in commands hud web; do ln -sfn ../../../$$d $(MYPY_TREE)/$$d; done
	MYPYPATH=build/mypy $(BIN)/mypy -p libreplay -p replaybook.commands -p replaybook.hud -p replaybook.web

# The suite needs, besides what playing needs, Debian's chromium and chromium-driver (the
# browser tests) and xterm.js (libjs-xterm, node-xterm: serve's browser test): `doctor --tests` checks them too, and --fix installs what is missing.
test-setup: venv
	$(BIN)/replaybook doctor --fix --tests

test: test-setup lint
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
