"""Import the bundled example generator (``examples/make_demo_motion.py``) in tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "examples" / "make_demo_motion.py"
_SPEC = importlib.util.spec_from_file_location("make_demo_motion", _PATH)
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)
demo_motion = _MODULE.demo_motion
