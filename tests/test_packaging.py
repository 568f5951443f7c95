"""The wheel carries every module and the resources, and an installed copy finds them."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (found,) = out.glob("skintrace-*.whl")
    return found


def test_wheel_holds_all_modules_and_resources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        p.relative_to(ROOT).as_posix() for d in ("app", "core") for p in (ROOT / d).rglob("*.py")
    }
    assert modules - names == set()
    res = {p.relative_to(ROOT).as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()}
    data = {n.split("/data/share/skintrace/", 1)[1] for n in names if "/data/share/skintrace/" in n}
    assert res and res == data
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"skintrace = app.launch:main" in entry


def test_installed_wheel_finds_resources_outside_the_checkout(wheel, tmp_path):
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # Dependencies come from the test environment; SkinTrace itself only from the wheel.
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        # --ignore-installed: never uninstall the developer's editable install on the way.
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
         "--prefix", str(env_dir), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = (
        "import app.gui.resources as r; print(r.RESOURCES); print(r.default_settings()['colors'])"
    )
    out = subprocess.run(
        [str(py), "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"},
    ).stdout.splitlines()  # fmt: skip
    assert Path(out[0]) == env_dir / "share" / "skintrace" / "resources"
    assert "wrinkle" in out[1]
