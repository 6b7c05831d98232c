# Two entry points for a fresh machine (see README): `make demo` and `make test`.
# Both are idempotent: they create .venv once and reinstall only what changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Blender's Python module (bpy, FBX in/out and the engine checks) pins numpy<2, so it gets its
# own interpreter; musicdance.io.blender finds it there (or via MDTOOL_BLENDER_PYTHON).
BLENDER_VENV := .venv-blender
BPY_PIN := bpy==5.0.1
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
	$(BIN)/mdtool choreograph examples/demo_song.mp3 -o out --library phrase_library
	@echo "The dance is in out/: demo_song.glb (open it in any glTF viewer, e.g. Blender or"
	@echo "the three.js editor), demo_song.bvh and demo_song.timeline.json."

test: venv
	$(BIN)/pip install --quiet "$(TORCH_PIN)"
	$(BIN)/pip install --quiet -e ".[dev,train,ray]"
	npm ci --no-audit --no-fund --loglevel=error
	# Blender (bpy: FBX in/out, and the Blender import checks; skipped without it)
	test -x $(BLENDER_VENV)/bin/python || $(PYTHON) -m venv $(BLENDER_VENV)
	$(BLENDER_VENV)/bin/pip install --quiet "$(BPY_PIN)" || echo "bpy not installed: the FBX and Blender tests will be skipped"
	# Godot 3 headless imports the .glb in tests/test_engines.py (skipped without it)
	command -v godot3-server >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends godot3-server) || echo "godot3-server not installed: the Godot test will be skipped"
	# headless Chromium runs three.js (WebGL through SwiftShader) in tests/test_engines.py, and
	# chromium-driver lets Selenium drive it through the studio in tests/test_studio.py (skipped without them)
	(command -v chromium >/dev/null && test -x /usr/bin/chromedriver) || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver) || echo "chromium or chromium-driver not installed: the browser tests will be skipped"
	# mono compiles and runs the Unity package's engine-independent C# tests (skipped without it)
	command -v mcs >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends mono-mcs) || echo "mono-mcs not installed: the C# tests will be skipped"
	# strace watches the service write nothing outside its work folder (skipped without it)
	command -v strace >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends strace) || echo "strace not installed: the service's file-creation test will be skipped"
	$(BIN)/ruff check sdk tools unity_bridge tests benchmarks examples
	# one pytest-xdist worker per core, a whole test file per worker at a time (module fixtures are
	# built once), the slowest files first (tests/conftest.py)
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

lint: venv
	$(BIN)/ruff check sdk tools unity_bridge tests benchmarks examples
