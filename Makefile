# `make run` and `make test` do all set-up on a fresh Debian machine (root, no display).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# What Qt needs to run offscreen (see README, "Headless"); Xvfb for a real X screen in screenshots.
QT_SYSTEM_PACKAGES := libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3 libgssapi-krb5-2 fonts-dejavu-core

.PHONY: run serve test system-deps lint bench screenshots package clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@ $(STAMP)

system-deps:
	@missing=""; for p in $(QT_SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Qt's system libraries:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "Qt needs these system packages:$$missing (install them with your package manager)"; fi; \
	fi

run: system-deps $(STAMP)
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ] && [ "$$(uname)" = Linux ]; then \
	  echo "No display found (DISPLAY/WAYLAND_DISPLAY unset): starting headless with 'acacia serve'. Ctrl-C stops it."; \
	  exec $(VENV)/bin/acacia serve; \
	else exec $(VENV)/bin/acacia-gui; fi

serve: system-deps $(STAMP)
	exec $(VENV)/bin/acacia serve

test: system-deps $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not package"
	$(VENV)/bin/ruff check .

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: system-deps $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
