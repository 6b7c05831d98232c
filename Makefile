# Two entry points for a fresh machine (see README): `make demo` and `make test`.
# Both are idempotent: they create .venv once and reinstall only what changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch comes from the CPU wheel this workplace keeps locally (pip's find-links); pinning the
# version stops pip from fetching the multi-GB CUDA build from the registry.
TORCH_PIN := torch==2.13.0

.PHONY: demo test venv lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

demo: venv
	$(BIN)/pip install --quiet .
	mkdir -p out
	$(BIN)/mdtool info examples/demo_dance.bvh
	$(BIN)/mdtool convert examples/demo_dance.bvh out/demo_dance.glb
	$(BIN)/mdtool info out/demo_dance.glb

test: venv
	$(BIN)/pip install --quiet "$(TORCH_PIN)"
	$(BIN)/pip install --quiet -e ".[dev,train]"
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/ruff check sdk tools unity_bridge tests benchmarks examples
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check sdk tools unity_bridge tests benchmarks examples
