"""Ablation on synthetic faces reproducing the shape of Table 3 (and Table 2 with baselines).

Generates a GT dataset from ``core.demo.synthetic`` (seeded faces, simulated annotator, GT
engine), trains each network with the same recipe and scores its best checkpoint on
the validation split with ``core.model.evaluate`` (one mask rule for every method).

Full width at 768×640 for 100 epochs needs a GPU; everything is configurable so a
reduced run fits a CPU:

    .venv/bin/python benchmarks/ablation_model.py --shape 160 192 --images 48 \\
        --epochs 20 --width-scale 0.25 --threads 2

``--width-scale`` multiplies every network's base width (U-Net 64, the others 32), so
the ratios between the networks' sizes stay those of Table 3. Writes
bench-results/ablation_model.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.dataset import DatasetEntry, write_dataset  # noqa: E402
from core.demo.synthetic import make_face  # noqa: E402
from core.gt.engine import GTParams  # noqa: E402
from core.model.evaluate import evaluate  # noqa: E402
from core.model.registry import MODELS, count_parameters, create_model  # noqa: E402
from core.model.train import train  # noqa: E402

TABLE3 = ("unet", "reduced-unet", "reduced-unet-attention", "proposed")


def make_dataset(folder: Path, n: int, shape: tuple[int, int], val_ratio: float) -> Path:
    def entries():
        for i in range(n):
            face = make_face(10_000 + i, shape=shape)
            yield DatasetEntry(
                id=f"face{i:04d}",
                image=np.asarray(face.image),
                rough={k: np.asarray(v) for k, v in face.rough.items()},
                status="accepted",
                content_hash=hashlib.sha256(face.image.tobytes()).hexdigest(),
            )

    for _ in write_dataset(folder, entries(), params=GTParams(), val_ratio=val_ratio, total=n):
        pass
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=2, default=(160, 192), metavar=("ROWS", "COLS"))
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--val-ratio", type=float, default=0.25)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument(
        "--patience", type=int, default=None, help="early stopping (default: --epochs, none)"
    )
    ap.add_argument("--width-scale", type=float, default=0.25)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--zero-pad", type=int, default=None, help="proposed: pad per side")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=[*TABLE3, "unet++"], choices=list(MODELS))
    ap.add_argument("--baselines", action="store_true", help="also score the baselines")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "ablation_model.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shape = tuple(args.shape)
    zero_pad = args.zero_pad
    if zero_pad is None:  # the paper's Z = 64 at 640 rows, scaled to the image
        zero_pad = max(4, round(32 * shape[0] / 640))

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        dataset = make_dataset(Path(tmp) / "ds", args.images, shape, args.val_ratio)
        print(
            f"dataset: {args.images} synthetic faces {shape[1]}x{shape[0]} "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        rows: dict[str, list[dict]] = {}
        for seed in args.seeds:
            for name in args.models:
                width = max(2, round(MODELS[name].default_width * args.width_scale))
                opts = {"width": width}
                if name == "proposed":
                    opts["zero_pad"] = zero_pad
                out = Path(tmp) / f"{name}-{seed}"
                t0 = time.perf_counter()
                last = None
                for progress in train(
                    dataset,
                    out=out,
                    model=name,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    lr=args.lr,
                    seed=seed,
                    patience=args.patience or args.epochs,
                    device=args.device,
                    **opts,
                ):
                    last = progress
                seconds = time.perf_counter() - t0
                report = evaluate(dataset, checkpoints=[out / "best"], device=args.device)
                r = report.results[0]
                row = {
                    "seed": seed,
                    "width": width,
                    "params": r.params,
                    "params_full_width": count_parameters(create_model(name)),
                    "val_loss": r.loss,
                    "iou_wrinkle": r.iou["wrinkle"],
                    "iou_pore": r.iou["pore"],
                    "best_epoch": last.info["best_epoch"] if last else None,
                    "train_seconds": seconds,
                }
                rows.setdefault(name, []).append(row)
                print(
                    f"  {name:<24} seed {seed} width {width:3d}: loss {r.loss:.5f} IoU w "
                    f"{r.iou['wrinkle']:.4f} p {r.iou['pore']:.4f} ({seconds:.0f} s)",
                    flush=True,
                )
        base = None
        if args.baselines:
            b = evaluate(dataset, baselines=True).results[0]
            base = {"val_loss": b.loss, "iou_wrinkle": b.iou["wrinkle"], "iou_pore": b.iou["pore"]}

    print(
        f"\n{'Network':<26} {'#Params':>9} {'(full)':>8} {'Loss':>9} {'IoU wrinkle':>12} "
        f"{'IoU pore':>9}"
    )
    summary = {}
    for name, runs in rows.items():
        med = {
            k: statistics.median(r[k] for r in runs)
            for k in ("val_loss", "iou_wrinkle", "iou_pore")
        }
        summary[name] = med
        print(
            f"{name:<26} {runs[0]['params'] / 1e6:>7.3f} M {runs[0]['params_full_width'] / 1e6:>6.1f} M "
            f"{med['val_loss']:>9.5f} {med['iou_wrinkle']:>12.4f} {med['iou_pore']:>9.4f}"
        )
    if base:
        print(
            f"{'image processing':<26} {'-':>9} {'-':>8} {base['val_loss']:>9.5f} "
            f"{base['iou_wrinkle']:>12.4f} {base['iou_pore']:>9.4f}"
        )
    result = {
        "config": vars(args) | {"zero_pad": zero_pad},
        "runs": rows,
        "median": summary,
        "baselines": base,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=list) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
