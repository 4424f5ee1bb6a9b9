# `make run` and `make test` do all set-up on a fresh Debian machine (root, no display).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# What Qt needs to run offscreen (see README, "Headless"); Xvfb for a real X screen in screenshots.
QT_SYSTEM_PACKAGES := libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3 libgssapi-krb5-2 fonts-dejavu-core socat

# `make package`: PyInstaller needs objdump (binutils); the two xcb libraries are linked by Qt's X11
# plugin, and installing them here lets PyInstaller put them in the bundle.
PACKAGE_SYSTEM_PACKAGES := binutils libxcb-icccm4 libxcb-keysyms1
PACKAGE_STAMP := $(VENV)/.installed-package

# A window on X11 (Qt's xcb platform plugin) loads these at run time: `make run` installs them when
# there is a display (without libxcb-cursor0 the window aborted on a fresh machine).
XCB_SYSTEM_PACKAGES := libxcb1 libx11-6 libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-util1 \
	libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 \
	libxcb-sync1 libxcb-xfixes0 libxcb-xkb1
# `make test` also starts the window on a real X server (Xvfb), so it needs those too, and xdotool sends it
# real mouse and key events; zsh and fish check their completion scripts (`acacia completion`) as bash's is.
# faketime (libfaketime) steps the wall clock of a real `acacia serve` (tests/integration/test_schedules_engine.py).
TEST_SYSTEM_PACKAGES := xvfb xauth xdotool $(XCB_SYSTEM_PACKAGES) zsh fish faketime
# The PostgreSQL store's tests need a server (tests/support/postgres_server.py): $$ACACIA_TEST_POSTGRES (a URL),
# else one answering on 127.0.0.1:5432 as `postgres` without a password, else a private throwaway cluster the
# tests start from Debian's binaries. The package is installed only when the first two give none (or when
# ACACIA_TEST_POSTGRES=private asks for the private cluster). `make test` fails if any PostgreSQL test is skipped.
POSTGRES_TEST_PACKAGES := postgresql

# $(call install-missing,WHAT,PACKAGES): apt-get install the packages not yet installed (as root), else name them.
define install-missing
@missing=""; for p in $(2); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then \
  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
    echo "Installing system packages for $(1):$$missing"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
  else echo "$(1) needs these system packages:$$missing (install them with your package manager)"; fi; \
fi
endef

.PHONY: run serve test system-deps xcb-deps test-system-deps postgres-test-deps postgres-packages lint bench screenshots package package-deps package-test clean

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
	fi; \
	if [ -n "$$DISPLAY" ] && [ "$$(uname)" = Linux ]; then $(MAKE) --no-print-directory xcb-deps; fi; \
	exec $(VENV)/bin/acacia-gui

xcb-deps:
	$(call install-missing,the window on X11 (Qt xcb),$(XCB_SYSTEM_PACKAGES))

test-system-deps:
	$(call install-missing,the test suite (Xvfb and Qt xcb),$(TEST_SYSTEM_PACKAGES))

postgres-test-deps: $(TEST_STAMP)
	@if [ -n "$$ACACIA_TEST_POSTGRES" ] && [ "$$ACACIA_TEST_POSTGRES" != private ]; then \
	  echo "PostgreSQL tests: the server at ACACIA_TEST_POSTGRES"; \
	elif [ -z "$$ACACIA_TEST_POSTGRES" ] && $(PY) -m tests.support.postgres_server --local-answers; then \
	  echo "PostgreSQL tests: the server on 127.0.0.1:5432"; \
	else \
	  echo "PostgreSQL tests: a private throwaway cluster from Debian's postgresql binaries"; \
	  $(MAKE) --no-print-directory postgres-packages; \
	fi

postgres-packages:
	$(call install-missing,the PostgreSQL tests (a private throwaway cluster),$(POSTGRES_TEST_PACKAGES))

serve: system-deps $(STAMP)
	exec $(VENV)/bin/acacia serve

test: system-deps test-system-deps $(TEST_STAMP) postgres-test-deps
	ACACIA_REQUIRE_POSTGRES=1 QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not package"
	$(VENV)/bin/ruff check .

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: system-deps $(TEST_STAMP) postgres-test-deps
	QT_QPA_PLATFORM=offscreen $(PY) bench/run.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/postgres_bench.py

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
package-test: package-deps $(TEST_STAMP) postgres-test-deps
	ACACIA_REQUIRE_POSTGRES=1 QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m package

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
