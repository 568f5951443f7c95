"""The torch Dataset over the GT dataset format, augmentation and padding collate.

Also home of :func:`make_dataset`, the tiny synthetic GT dataset the model tests share.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from core.dataset import DatasetEntry, write_dataset
from core.demo.synthetic import make_face
from core.errors import DatasetError
from core.gt.engine import GTParams
from core.model.data import Augment, GTDataset, augment_pair, data_hash, pad_collate


def make_dataset(
    folder: Path, n: int = 10, shape: tuple[int, int] = (64, 80), val_ratio: float = 0.25
) -> Path:
    """A GT dataset of ``n`` seeded synthetic faces written by ``core.dataset.write_dataset``."""

    def entries():
        for i in range(n):
            face = make_face(i, shape=shape)
            digest = hashlib.sha256(face.image.tobytes()).hexdigest()
            yield DatasetEntry(
                id=f"face{i:03d}",
                image=np.asarray(face.image),
                rough={k: np.asarray(v) for k, v in face.rough.items()},
                status="accepted",
                content_hash=digest,
            )

    for _ in write_dataset(folder, entries(), params=GTParams(), val_ratio=val_ratio, total=n):
        pass
    return folder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds") / "ds", n=6)


def test_samples_are_normalised_tensors(dataset):
    ds = GTDataset(dataset, "all")
    assert len(ds) == 6
    x, y, valid = ds[0]
    assert x.shape == (3, 64, 80) and y.shape == (2, 64, 80) and valid.shape == (1, 64, 80)
    assert x.dtype == y.dtype == torch.float32
    assert 0 <= float(x.min()) and float(x.max()) <= 1 and float(y.max()) <= 1
    assert float(y[0].max()) > 0 and float(y[1].max()) > 0  # both classes present


def test_augmentation_is_seeded_and_changes_with_epoch(dataset):
    ds = GTDataset(dataset, "all", augment=Augment(), seed=3)
    a = ds[1][0]
    again = ds[1][0]
    ds.set_epoch(1)
    b = ds[1][0]
    torch.testing.assert_close(a, again)
    assert not torch.allclose(a, b)


def test_augmentation_moves_image_and_target_together():
    rng = np.random.default_rng(0)
    image = np.zeros((40, 50, 3), np.float32)
    image[10:14, 30:34] = 1.0
    gt = np.zeros((40, 50, 2), np.float32)
    gt[10:14, 30:34, 1] = 1.0
    aug = Augment(color=0, brightness=0, contrast=0)
    for seed in range(8):
        im2, gt2 = augment_pair(image, gt, np.random.default_rng(seed), aug)
        centre_im = np.argwhere(im2[..., 0] > 0.5).mean(axis=0)
        centre_gt = np.argwhere(gt2[..., 1] > 0.5).mean(axis=0)
        np.testing.assert_allclose(centre_im, centre_gt, atol=0.5)
        # small shifts only: the square stays in the upper half (no vertical flip)
        assert centre_im[0] < 20
    del rng


def test_pad_collate_marks_real_pixels():
    a = (torch.ones(3, 4, 5), torch.ones(2, 4, 5), torch.ones(1, 4, 5))
    b = (torch.ones(3, 6, 3), torch.ones(2, 6, 3), torch.ones(1, 6, 3))
    x, y, valid = pad_collate([a, b])
    assert x.shape == (2, 3, 6, 5) and y.shape == (2, 2, 6, 5)
    assert valid[0].sum() == 20 and valid[1].sum() == 18


def test_data_hash_depends_on_content(dataset, tmp_path):
    from core.dataset import read_manifest

    h1 = data_hash(read_manifest(dataset))
    other = make_dataset(tmp_path / "other", n=5)
    assert h1 != data_hash(read_manifest(other))
    assert h1 == data_hash(read_manifest(dataset))


def test_mask_levels_are_half_median_of_train_gt(dataset):
    ds = GTDataset(dataset, "all")
    levels = ds.mask_levels()
    for k, c in enumerate(("wrinkle", "pore")):
        values = np.concatenate([ds.raw_uint8(i)[1][..., k].ravel() for i in range(len(ds))])
        median = np.median(values[values > 0])
        assert abs(levels[c] - 0.5 * median) <= 0.5


def test_load_gt_reads_any_path_and_reports_bad_files_as_dataset_errors(tmp_path):
    from core.imageio import encode_png
    from core.model.data import load_gt

    gt = np.arange(20, dtype=np.uint8).reshape(4, 5)
    good = tmp_path / "visage-été" / "pore.png"  # non-ASCII folder name
    good.parent.mkdir()
    good.write_bytes(encode_png(gt))
    np.testing.assert_array_equal(load_gt(good, (4, 5)), gt)
    with pytest.raises(DatasetError, match=r"is \(4, 5\), its image is \(5, 4\)"):
        load_gt(good, (5, 4))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetError, match="broken.png: not a PNG image"):
        load_gt(tmp_path / "broken.png")
    with pytest.raises(DatasetError, match="missing.png"):
        load_gt(tmp_path / "missing.png")
