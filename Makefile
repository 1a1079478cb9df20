# Yizhan: one command for each thing. Every target does its own set-up on a fresh
# Debian 12 machine (run as root): Debian packages only when missing, then a
# virtualenv in .venv with the project installed editable.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEB_PACKAGES := xvfb xauth libgl1-mesa-dri libmtdev1 libusb-1.0-0 fonts-wqy-microhei espeak-ng fontconfig nginx fonts-babelstone-han chromium
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint setup system-deps venv clean

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

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/yizhan demo

test: setup
	$(PY) -m pytest -q

bench: setup
	@set -e; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) demo-out .pytest_cache
