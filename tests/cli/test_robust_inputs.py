"""Issue 16 through the command line: EPS under an image name, 16-bit rough masks, tiny images."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from app.cli import main
from core.dataset import read_manifest
from core.imageio import encode_png, load_mask

ENDLESS_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n{ } loop\n%%EOF\n"


def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(array))
    return path


def test_import_skips_an_eps_named_jpg_without_running_ghostscript(
    tmp_path, rng, capsys, monkeypatch
):
    def refuse(*args, **kwargs):
        raise AssertionError("an external program was started")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    src = tmp_path / "src"
    _png(src / "ok.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    (src / "face.jpg").write_bytes(ENDLESS_EPS)
    assert main(["new", str(tmp_path / "p")]) == 0
    assert main(["import", str(tmp_path / "p"), str(src), "-q"]) == 0
    out = capsys.readouterr()
    assert "added 1 image(s)" in out.out
    assert "face.jpg: is a PostScript/EPS file; only PNG, JPEG, TIFF, BMP and WebP" in out.err


def test_from_masks_keeps_a_16_bit_rough_mask(tmp_path, rng, capsys):
    images, rw, rp = tmp_path / "img", tmp_path / "rw", tmp_path / "rp"
    _png(images / "f.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    painted = np.zeros((16, 16), np.uint16)
    painted[2:6, 3:9] = 1
    painted[10:12, 1:15] = 100  # the values: 1 and 100 in a 16-bit PNG
    rw.mkdir()
    Image.fromarray(painted).save(rw / "f.png")
    rp.mkdir()
    out = tmp_path / "ds"
    assert main(["dataset", "from-masks", str(images), str(rw), str(rp), str(out), "-q"]) == 0
    item = read_manifest(out).items[0]
    np.testing.assert_array_equal(load_mask(item.rough["wrinkle"]), painted != 0)


def test_from_masks_names_a_tiny_image(tmp_path, rng, capsys):
    images, rw, rp = tmp_path / "img", tmp_path / "rw", tmp_path / "rp"
    _png(images / "dot.png", rng.integers(0, 256, (1, 1, 3), dtype=np.uint8))
    _png(rw / "dot.png", np.full((1, 1), 255, np.uint8))
    rp.mkdir()
    argv = ["dataset", "from-masks", str(images), str(rw), str(rp), str(tmp_path / "ds"), "-q"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dot.png: image is 1×1 pixels" in err and "8×8" in err
    assert not (tmp_path / "ds").exists()
