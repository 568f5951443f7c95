"""Image loading: formats, bit depths, EXIF orientation, and clear errors naming the file."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from core.errors import ImageLoadError, SkinTraceError
from core.imageio import (
    MAX_PIXELS,
    encode_png,
    load_image,
    load_mask,
    read_image_size,
    save_png,
)


@pytest.fixture
def rgb(rng) -> np.ndarray:
    return rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)


@pytest.fixture
def smooth() -> np.ndarray:
    """A smooth, asymmetric image that JPEG keeps close (unlike noise)."""
    r, c = np.mgrid[0:24, 0:32]
    return np.stack([r * 8 + 40, c * 5 + 30, (r + c) * 3 + 20], axis=2).astype(np.uint8)


@pytest.mark.parametrize("fmt", ["png", "bmp", "tiff", "webp"])
def test_lossless_rgb_formats_round_trip(tmp_path, rgb, fmt):
    path = tmp_path / f"img.{fmt}"
    kwargs = {"lossless": True} if fmt == "webp" else {}
    Image.fromarray(rgb).save(path, **kwargs)
    img = load_image(path)
    assert img.pixels.dtype == np.uint8 and img.pixels.shape == (23, 31, 3)
    np.testing.assert_array_equal(img.pixels, rgb)
    assert img.bit_depth == 8 and img.mode == "RGB" and img.path == path
    assert read_image_size(path) == (23, 31)


def test_gray_rgba_palette_are_converted_to_rgb(tmp_path, rgb):
    gray = rgb[..., 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    img = load_image(tmp_path / "g.png")
    assert img.mode == "L"
    np.testing.assert_array_equal(img.pixels, np.stack([gray] * 3, axis=2))

    rgba = np.concatenate([rgb, np.full((23, 31, 1), 10, np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.mode == "RGBA"
    np.testing.assert_array_equal(img.pixels, rgb)  # alpha dropped, not composited

    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    img = load_image(tmp_path / "p.png")
    assert img.mode == "P" and img.pixels.shape == (23, 31, 3)


def test_jpeg_loads(tmp_path, smooth):
    Image.fromarray(smooth).save(tmp_path / "x.jpg", quality=95)
    img = load_image(tmp_path / "x.jpg")
    assert img.pixels.shape == (24, 32, 3) and img.bit_depth == 8
    assert np.abs(img.pixels.astype(int) - smooth).mean() < 3


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, rgb, orientation):
    pil = Image.fromarray(rgb)
    exif = pil.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    pil.save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    got = load_image(path).pixels
    np.testing.assert_array_equal(got, expected)
    if orientation in (5, 6, 7, 8):
        assert got.shape == (31, 23, 3)


def test_jpeg_exif_rotation_applied(tmp_path, smooth):
    pil = Image.fromarray(smooth)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    pil.save(tmp_path / "r.jpg", exif=exif, quality=95)
    got = load_image(tmp_path / "r.jpg").pixels
    assert got.shape == (32, 24, 3)
    assert np.abs(got.astype(int) - np.rot90(smooth, k=-1)).mean() < 3


def _expected16(a: np.ndarray) -> np.ndarray:
    return np.rint(a.astype(np.float64) * 255 / 65535).astype(np.uint8)


def test_16bit_gray_png_and_tiff_scaled_with_rounding(tmp_path, rng):
    a = rng.integers(0, 65536, (17, 19), dtype=np.uint16)
    a[0, 0], a[0, 1], a[0, 2] = 0, 65535, 128  # 128/257 rounds to 0
    Image.fromarray(a).save(tmp_path / "g16.png")
    tifffile.imwrite(tmp_path / "g16.tif", a)
    for name in ("g16.png", "g16.tif"):
        img = load_image(tmp_path / name)
        assert img.bit_depth == 16 and img.mode.startswith("I;16")
        np.testing.assert_array_equal(img.pixels[..., 1], _expected16(a))
        assert img.pixels[0, 0, 0] == 0 and img.pixels[0, 1, 0] == 255


def test_16bit_rgb_tiff_and_png_keep_low_bits(tmp_path, rng):
    import cv2

    a = rng.integers(0, 65536, (13, 21, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", a, photometric="rgb")
    ok, buf = cv2.imencode(".png", a[..., ::-1])  # OpenCV writes BGR
    assert ok
    (tmp_path / "c16.png").write_bytes(buf.tobytes())
    for name in ("c16.tif", "c16.png"):
        img = load_image(tmp_path / name)
        assert img.bit_depth == 16
        np.testing.assert_array_equal(img.pixels, _expected16(a))


def test_8bit_tiff_gray(tmp_path, rgb):
    tifffile.imwrite(tmp_path / "g8.tif", rgb[..., 2])
    img = load_image(tmp_path / "g8.tif")
    assert img.bit_depth == 8
    np.testing.assert_array_equal(img.pixels[..., 0], rgb[..., 2])


def _err(path, **kw) -> str:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kw)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    assert isinstance(info.value, SkinTraceError)
    return msg


def test_errors_name_the_file(tmp_path, rgb):
    assert "not found" in _err(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty" in _err(tmp_path / "empty.png")
    (tmp_path / "notes.png").write_text("these are not pixels\n" * 20)
    assert "not a recognised image" in _err(tmp_path / "notes.png")
    assert "folder" in _err(tmp_path)

    data = encode_png(rgb)
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    assert "corrupt or truncated" in _err(tmp_path / "trunc.png")

    Image.fromarray(rgb).save(tmp_path / "j.jpg")
    jpg = (tmp_path / "j.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(jpg[: len(jpg) // 2])
    assert "corrupt or truncated" in _err(tmp_path / "trunc.jpg")

    corrupt = bytearray(data)
    corrupt[45:-20] = b"\xff" * (len(corrupt) - 65)  # damage the compressed pixel data
    (tmp_path / "corrupt.png").write_bytes(bytes(corrupt))
    assert "corrupt" in _err(tmp_path / "corrupt.png")


def test_pixel_limit_checked_from_header_before_decoding(tmp_path, rng):
    big = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
    data = encode_png(big)
    # Only the header survives: decoding would fail, so the limit error proves
    # the size was checked before any pixel data was read.
    (tmp_path / "header_only.png").write_bytes(data[:64])
    msg = _err(tmp_path / "header_only.png", max_pixels=100 * 120 - 1)
    assert "limit" in msg and "not decoded" in msg
    assert read_image_size(tmp_path / "header_only.png") == (100, 120)
    (tmp_path / "ok.png").write_bytes(data)
    assert load_image(tmp_path / "ok.png", max_pixels=100 * 120).pixels.shape == (100, 120, 3)
    assert MAX_PIXELS >= 6000 * 4000


def test_save_png_is_atomic_and_round_trips(tmp_path, rgb, monkeypatch):
    path = tmp_path / "sub" / "out.png"
    save_png(path, rgb)
    np.testing.assert_array_equal(load_image(path).pixels, rgb)
    mask = rgb[..., 0] > 128
    save_png(path, mask)
    assert set(np.unique(np.asarray(Image.open(path)))) <= {0, 255}
    np.testing.assert_array_equal(load_mask(path, shape=mask.shape), mask)
    # A failing encode leaves the previous file intact and no temp files behind.
    with pytest.raises(ValueError):
        save_png(path, np.zeros((4, 4, 2), np.uint8))
    np.testing.assert_array_equal(load_mask(path), mask)
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]


def test_load_mask_shape_mismatch(tmp_path):
    save_png(tmp_path / "m.png", np.zeros((5, 6), bool))
    with pytest.raises(ImageLoadError, match="expected"):
        load_mask(tmp_path / "m.png", shape=(6, 5))


def test_loaded_pixels_are_a_fresh_contiguous_array(tmp_path, rgb):
    save_png(tmp_path / "x.png", rgb)
    a, b = load_image(tmp_path / "x.png").pixels, load_image(tmp_path / "x.png").pixels
    assert a.flags.c_contiguous and a.flags.owndata and a.flags.writeable
    a[0, 0, 0] ^= 1
    assert not np.array_equal(a, b)


def test_pillow_bomb_guard_reported_as_limit(tmp_path, rng, monkeypatch):
    save_png(tmp_path / "x.png", rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses > 200 px
    msg = _err(tmp_path / "x.png")
    assert "image is 1200 pixels, over the limit of 200 pixels" in msg
    assert "DOS" not in msg  # Pillow's own wording means nothing to an annotator
