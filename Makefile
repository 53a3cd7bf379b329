# FedLite: `make demo` runs the whole federated loop on this machine; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
LEGACY_VENV := .venv-legacy
PY := $(VENV)/bin/python
LEGACY_PY := $(LEGACY_VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: all demo test test-python venv legacy-venv android-core-test bench clean

all: test

# The development environment: every extra, the maintained runtime (ai-edge-litert).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[convert,server,demo,dev]'
	touch $@

# A device-like environment on the legacy runtime: tflite-runtime 2.14 with numpy<2, no TensorFlow.
$(LEGACY_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LEGACY_VENV)
	$(LEGACY_PY) -m pip install -q --upgrade pip
	$(LEGACY_PY) -m pip install -q 'numpy<2' 'tflite-runtime==2.14.0' 'requests>=2.31' 'cryptography>=41'
	$(LEGACY_PY) -m pip install -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed
legacy-venv: $(LEGACY_VENV)/.installed

demo: venv
	$(VENV)/bin/fedlite demo

test: test-python android-core-test

test-python: venv legacy-venv
	FEDLITE_LEGACY_PYTHON=$(abspath $(LEGACY_PY)) $(PY) -m pytest -n 2 $(PYTEST_ARGS)

android-core-test:
	$(MAKE) -C android_demo/core test

bench: venv
	mkdir -p out
	$(PY) benchmarks/train_step.py --json out/train_step.json
	$(PY) benchmarks/codec.py --json out/codec.json
	$(PY) benchmarks/server_ingest.py --json out/server_ingest.json
	$(PY) benchmarks/device_footprint.py --json out/device_footprint.json
	$(PY) benchmarks/federated.py --json out/federated.json

clean:
	rm -rf $(VENV) $(LEGACY_VENV) out build *.egg-info
