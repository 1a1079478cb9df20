# Yizhan: one command for each thing. Every target does its own set-up on a fresh
# Debian 12 machine (run as root): Debian packages only when missing, then a
# virtualenv in .venv with the project installed editable.
SHELL := /bin/bash
# The interpreter a station runs: Debian 12's own (3.11.2), not whatever python3 is first on PATH.
PYTHON ?= /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
DEB_PACKAGES := xvfb xauth libgl1-mesa-dri libmtdev1 libusb-1.0-0 fonts-wqy-microhei espeak-ng ffmpeg fontconfig nginx fonts-babelstone-han chromium chromium-driver postgresql systemd passwd testssl.sh libzinnia0 tegaki-zinnia-simplified-chinese
STAMP := $(VENV)/.installed
# One lock per way of installing (deploy/lock.py): a station, a hub, and this development
# checkout (everything: both sides, the test tools, the benchmarks).
STATION_LOCK := requirements-station.lock
HUB_LOCK := requirements-hub.lock
DEV_LOCK := requirements-dev.lock

.PHONY: demo test bench lint setup system-deps venv clean lock release

setup: system-deps venv

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(STAMP)

# Dependencies come from the hashed dev lock (the station's and the hub's together, with the
# test and benchmark tools); the project itself goes in editable on top. The station's and the
# hub's wheels are downloaded into .cache/wheelhouse (the bundle tests, the hub's offline install
# in the box suite). A lock that no longer
# matches pyproject.toml (a dependency added without `make lock`) falls back to an unlocked
# install with a warning; tests/deploy/test_lock.py fails then.
$(STAMP): pyproject.toml $(STATION_LOCK) $(HUB_LOCK) $(DEV_LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	if $(PYTHON) -m deploy.lock check; then \
	  $(PY) -m pip install -q --require-hashes -r $(DEV_LOCK) && $(PY) -m pip install -q --no-deps -e . \
	  && { $(PY) -m deploy.release --download-only --no-check --wheelhouse .cache/wheelhouse \
	       || echo "WARNING: could not fill .cache/wheelhouse (the release bundle tests need it)" >&2; } ; \
	else \
	  echo "WARNING: the locks are out of date with pyproject.toml: run 'make lock'; installing unlocked" >&2; \
	  $(PY) -m pip install -q -e '.[station,hub,test,bench]'; \
	fi
	touch $(STAMP)

# Re-resolve every dependency (needs the package index): after changing pyproject.toml.
# Writes the three locks; versions already locked are kept where they still fit.
lock: venv
	$(PY) -m pip install -q uv
	$(PY) -m deploy.lock write

# The offline bundle for Debian 12 / Python 3.11 x86_64, signed: dist/yizhan-<version>.tar.
# It carries the station's side only (requirements-station.lock): no web server, no database driver.
# RELEASE_KEY is the hub's feed key (PEM); a throwaway key is made when it is missing.
RELEASE_KEY ?= .cache/release-key.pem
release: setup
	$(PY) -m deploy.release --key $(RELEASE_KEY) --out dist --wheelhouse .cache/wheelhouse

demo: setup
	$(VENV)/bin/yizhan demo

# The station-box suite (tests/box: the bundle installed under a real systemd) runs after the
# rest, not beside it: on two cores its installs and Kivy start-ups slowed the main suite's
# network tests past their deadlines. Both must pass.
test: setup
	$(PY) -m pytest -q --ignore=tests/box --durations=25; main=$$?; \
	echo "== station-box suite (tests/box, under a real systemd)"; \
	$(PY) -m pytest -q -p no:cacheprovider tests/box; boxed=$$?; \
	exit $$(( main != 0 ? main : boxed ))

bench: setup
	@set -e; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

# ruff on everything; mypy on the rooms pyproject.toml's [tool.mypy] lists (also a test:
# tests/foundation/test_types.py).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) demo-out .pytest_cache
