"""A closed list of decoders, a time budget, and masks read at any integer depth."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest
import tifffile
from PIL import Image

import core.imageio as imageio
from core.dataset import load_painted
from core.errors import ImageLoadError
from core.imageio import load_image, load_mask, read_image_size

#: An EPS whose PostScript never ends: Ghostscript would run it forever.
ENDLESS_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n{ } loop\n%%EOF\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def no_subprocess(monkeypatch):
    """Fail the test if anything starts an external program (Ghostscript)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"an external program was started: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


@pytest.mark.parametrize(
    ("content", "name", "said"),
    [
        (ENDLESS_EPS, "face.jpg", "PostScript/EPS"),
        (b"\xc5\xd0\xd3\xc6" + ENDLESS_EPS, "face.png", "EPS"),
        (PDF, "face.tif", "PDF"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "face.bmp", "GIF"),
    ],
)
def test_other_formats_under_an_image_name_are_never_decoded(
    tmp_path, no_subprocess, content, name, said
):
    path = tmp_path / name
    path.write_bytes(content)
    for read in (load_image, read_image_size, load_mask):
        with pytest.raises(ImageLoadError) as exc:
            read(path)
        message = str(exc.value)
        assert str(path) in message and said in message and "only PNG, JPEG" in message


def test_supported_formats_is_the_closed_list():
    assert imageio.SUPPORTED_FORMATS == ("PNG", "JPEG", "TIFF", "BMP", "WEBP")


def test_a_decode_over_the_time_budget_is_abandoned_with_a_message(tmp_path, monkeypatch):
    path = tmp_path / "slow.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    real = imageio._load_image

    def slow(p, max_pixels):
        time.sleep(0.5)  # a decoder stuck in C code
        return real(p, max_pixels)

    monkeypatch.setattr(imageio, "_load_image", slow)
    with pytest.raises(ImageLoadError, match=r"slow\.png: decoding took longer than 0\.05 s"):
        load_image(path, max_seconds=0.05)
    assert load_image(path, max_seconds=None).pixels.shape == (8, 8, 3)


def _painted(rng, dtype=np.uint8, values=(1,)) -> tuple[np.ndarray, np.ndarray]:
    """A (12, 10) label array using ``values`` on a random half, and where it is nonzero."""
    labels = np.zeros((12, 10), dtype)
    where = rng.random((12, 10)) > 0.5
    labels[where] = rng.choice(np.array(values, dtype), size=int(where.sum()))
    return labels, labels != 0


@pytest.mark.parametrize(
    ("kind", "dtype", "values"),
    [
        ("png", np.uint8, (1,)),
        ("png", np.uint8, (255,)),
        ("png", np.uint8, (1, 2, 7)),  # label values
        ("png", np.uint16, (1, 100)),  # the 16-bit rough mask
        ("png", np.uint16, (65535,)),
        ("tiff", np.uint16, (1, 3)),
        ("tiff", np.uint8, (1,)),
        ("bmp", np.uint8, (1,)),
    ],
)
def test_masks_of_any_integer_depth_keep_every_painted_pixel(tmp_path, rng, kind, dtype, values):
    labels, expected = _painted(rng, dtype, values)
    path = tmp_path / f"m.{kind}"
    if kind == "tiff":
        tifffile.imwrite(path, labels)
    else:
        Image.fromarray(labels).save(path)
    np.testing.assert_array_equal(load_mask(path, shape=(12, 10)), expected)
    np.testing.assert_array_equal(load_painted(path), expected)


def test_one_bit_palette_and_16_bit_colour_masks(tmp_path, rng):
    labels, expected = _painted(rng)
    Image.fromarray(expected).convert("1").save(tmp_path / "one.png")
    pal = Image.fromarray(labels * 3, mode="L").convert("P")
    pal.putpalette([0, 0, 0] + [255, 0, 0] * 255)
    pal.save(tmp_path / "pal.png")
    rgb16 = np.zeros((12, 10, 3), np.uint16)
    rgb16[..., 2] = labels  # value 1 in blue only: Pillow's high byte would be 0
    import cv2

    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[..., ::-1])
    for name in ("one.png", "pal.png", "rgb16.png"):
        np.testing.assert_array_equal(load_mask(tmp_path / name), expected, err_msg=name)


def test_masks_whose_values_cannot_be_read_are_errors_naming_the_file(tmp_path, rng):
    floats = tmp_path / "float.tif"
    tifffile.imwrite(floats, rng.random((12, 10)).astype(np.float32))
    with pytest.raises(ImageLoadError, match=r"float\.tif: mask has floating-point values"):
        load_mask(floats)
    alpha = np.zeros((12, 10, 4), np.uint8)
    alpha[2:5, 3:6, 3] = 255  # painted only in the alpha channel
    Image.fromarray(alpha).save(tmp_path / "alpha.png")
    with pytest.raises(ImageLoadError, match=r"alpha\.png: mask is painted only in its alpha"):
        load_mask(tmp_path / "alpha.png")
    # An opaque RGBA mask is read from its colour.
    alpha[..., 3] = 255
    alpha[1, 1, 0] = 9
    Image.fromarray(alpha).save(tmp_path / "opaque.png")
    assert load_mask(tmp_path / "opaque.png").sum() == 1
