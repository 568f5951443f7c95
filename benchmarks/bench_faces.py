"""Faces: landmarks + alignment of a 6000×4000 photo vs opening it; the zone prior.

1. A 6000×4000 photo is made from skimage's astronaut (upscaled into a larger frame) and
   saved as JPEG; we time ``load_image`` (what opening the next image costs), face
   detection + 5-point landmarks, and the 768×640 alignment crop. Medians of 5 runs.
2. If ``../shared/real/porenet_left`` is present, the detector's state on it is printed
   (it is a half face: no face is expected, the manual fallback applies).
3. The zone prior on generated faces (core.demo.synthetic, known truth, layout face points):
   baseline pre-labels (Frangi + k-means) scored with and without the prior.

Run: ``.venv/bin/python benchmarks/bench_faces.py``
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.demo.synthetic import make_face  # noqa: E402
from core.face.align import alignment_for  # noqa: E402
from core.face.landmarks import detect_faces, layout_face  # noqa: E402
from core.face.prior import apply_zone_prior  # noqa: E402
from core.gt.baselines import baseline_maps  # noqa: E402
from core.gt.metrics import confusion  # noqa: E402
from core.imageio import load_image  # noqa: E402

REAL = ROOT.parent / "shared" / "real"


def median_ms(fn, runs=5):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def big_photo(path: Path) -> None:
    face = cv2.resize(data.astronaut(), (3600, 3600), interpolation=cv2.INTER_CUBIC)
    photo = np.full((4000, 6000, 3), 120, np.uint8)
    photo[200:3800, 1200:4800] = face
    cv2.imwrite(str(path), photo[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])


def main() -> None:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        big_photo(path)
        pixels = load_image(path).pixels
        r = detect_faces(pixels)
        assert r.face is not None, r.message
        t = alignment_for(r.face, pixels.shape[:2])
        out["load_ms"] = median_ms(lambda: load_image(path))
        out["detect_ms"] = median_ms(lambda: detect_faces(pixels))
        out["align_ms"] = median_ms(lambda: t.crop_image(pixels))
    print("6000×4000 JPEG, median ms of 5 (2 shared cores):")
    print(f"  open (load_image)            {out['load_ms']:8.0f}")
    print(f"  detect + 5-point landmarks   {out['detect_ms']:8.0f}")
    print(f"  align to 768×640             {out['align_ms']:8.0f}")
    ratio = (out["detect_ms"] + out["align_ms"]) / out["load_ms"]
    print(f"  landmarks+alignment / open   {ratio:8.2f}")
    out["ratio"] = ratio
    pn = REAL / "porenet_left" / "image.png"
    if pn.is_file():
        res = detect_faces(load_image(pn).pixels)
        print(f"porenet_left: state={res.state} ({res.message})")
        out["porenet_state"] = res.state
    else:
        print(f"porenet_left: {pn} is absent, skipped")
    rows = []
    for seed in range(6):
        f = make_face(seed, shape=(320, 384))
        maps = baseline_maps(f.image)
        prior = apply_zone_prior(maps, layout_face(f.shape))
        for cls in ("wrinkle", "pore"):
            a, b = confusion(f.masks[cls], maps[cls]), confusion(f.masks[cls], prior[cls])
            rows.append((cls, a.precision, b.precision, a.recall, b.recall, a.iou, b.iou))
    print("zone prior on 6 generated faces (384×320), baseline pre-labels, mean:")
    print("  class    precision off→on   recall off→on   IoU off→on")
    for cls in ("wrinkle", "pore"):
        v = np.array([r[1:] for r in rows if r[0] == cls]).mean(0)
        print(f"  {cls:7s}  {v[0]:.3f} → {v[1]:.3f}     {v[2]:.3f} → {v[3]:.3f}   {v[4]:.3f} → {v[5]:.3f}")  # fmt: skip
        out[f"prior_{cls}"] = v.tolist()
    res_dir = ROOT / "bench-results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "bench_faces.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
