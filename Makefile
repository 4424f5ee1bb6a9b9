# `make run` and `make test` do all set-up on a fresh Debian machine (root, no display).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# What Qt needs to run offscreen (see README, "Headless"); Xvfb for a real X screen in screenshots.
QT_SYSTEM_PACKAGES := libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3 libgssapi-krb5-2 fonts-dejavu-core

# `make package`: PyInstaller needs objdump (binutils); the two xcb libraries are linked by Qt's X11
# plugin, and installing them here lets PyInstaller put them in the bundle.
PACKAGE_SYSTEM_PACKAGES := binutils libxcb-icccm4 libxcb-keysyms1
PACKAGE_STAMP := $(VENV)/.installed-package

.PHONY: run serve test system-deps lint bench screenshots package package-deps package-test clean

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

$(PACKAGE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[package]'
	touch $@

package-deps: system-deps $(PACKAGE_STAMP)
	@missing=""; for p in $(PACKAGE_SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing the bundle's build dependencies:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "The bundle build wants these system packages:$$missing (install them with your package manager)"; fi; \
	fi

# A one-folder bundle in dist/acacia/ (see packaging/README.md); check it with dist/acacia/acacia --self-test.
package: package-deps
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller packaging/acacia.spec
	@du -sh dist/acacia

# Builds the bundle (in a temporary folder) and the wheel, and runs both self-tests; CI runs it after `make test`.
package-test: package-deps $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m package

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
