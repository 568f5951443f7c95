"""Every file name is imported or skipped with a reason; tiny images are refused."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.imageio import MIN_IMAGE_SIDE, encode_png, load_image
from core.project import Project
from core.project.importer import ImportSummary

#: Names a careless or hostile folder holds; all of them are valid UTF-8.
ODD_NAMES = [
    "plain.png",
    "with space and ünïcödé 顔.png",
    "emoji 😀.png",
    "-leading-dash.png",
    "glob*?[x].png",
    "new\nline.png",
    "tab\there.png",
    "back\\slash.png",
    "x" * 240 + ".png",  # near the 255-byte limit of a file name
]


def _png(path: Path, rng, shape=(16, 20)) -> None:
    path.write_bytes(encode_png(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)))


def _run(gen) -> ImportSummary:
    *_, last = gen
    return last.info["summary"]


@pytest.fixture
def odd_folder(tmp_path, rng) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ODD_NAMES:
        _png(src / name, rng)
    # A name that is not UTF-8 (Latin-1 "café"), made through the bytes API.
    with open(os.path.join(os.fsencode(src), b"caf\xe9.png"), "wb") as fh:
        fh.write(encode_png(rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)))
    _png(src / "tiny.png", rng, shape=(1, 1))
    _png(src / "thin.png", rng, shape=(MIN_IMAGE_SIDE - 1, 40))
    return src


@pytest.mark.parametrize("copy", [False, True])
def test_odd_names_are_imported_and_the_rest_goes_on(tmp_path, odd_folder, copy):
    with Project.create(tmp_path / f"proj{copy}", user="u") as proj:
        summary = _run(proj.import_images(odd_folder, copy=copy))
        names = sorted(r.name for r in proj.images())
        assert names == sorted(ODD_NAMES)
        for rec in proj.images():  # every stored path opens
            assert load_image(rec.path).pixels.shape == (16, 20, 3)
    assert summary.added == len(ODD_NAMES)
    assert [(Path(f).name, why) for f, why in summary.bad_names] == [
        ("caf\\xe9.png", "file name is not valid UTF-8; rename it to import it")
    ]
    reasons = dict(summary.unreadable)
    assert len(reasons) == 2
    tiny = next(r for f, r in reasons.items() if f.endswith("tiny.png"))
    assert "1×1 pixels, smaller than the minimum of 8×8" in tiny
    thin = next(r for f, r in reasons.items() if f.endswith("thin.png"))
    assert "40×7 pixels" in thin


def test_the_cli_reports_each_skipped_file_on_one_line(tmp_path, odd_folder, capsys):
    proj = tmp_path / "proj"
    assert main(["new", str(proj)]) == 0
    assert main(["import", str(proj), str(odd_folder), "--copy", "-q"]) == 0
    out = capsys.readouterr()
    assert f"added {len(ODD_NAMES)} image(s)" in out.out
    assert "Traceback" not in out.err
    lines = out.err.splitlines()
    assert any("caf\\xe9.png" in line and "not valid UTF-8" in line for line in lines)
    assert any("tiny.png" in line and "minimum of 8×8" in line for line in lines)
    assert len(lines) == 3  # one line per skipped file: no raw newline from a name
