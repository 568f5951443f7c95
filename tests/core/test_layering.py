"""tests/core never imports Qt, and core's light modules do not pull in torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_core_tests_never_import_qt():
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|shiboken6|pytestqt)", re.M)
    offenders = [p.name for p in HERE.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_importing_core_light_modules_does_not_import_torch_or_qt():
    code = (
        "import sys, core, core.errors, core.progress, core.atomic, core.classes\n"
        "bad = [m for m in ('torch', 'PySide6') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
