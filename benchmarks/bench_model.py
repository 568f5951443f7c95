"""Inference and training speed of the segmentation networks (CPU always, GPU when present).

CPU: median time of one forward pass on a 768×640 face crop (array (640, 768, 3)) per
network at full width, batch 1, with 2 torch threads; the ratio proposed / unet.
GPU (only when CUDA exists): per network, batch 1 and the best batch (images/s) in
fp32 and with autocast (bf16 where supported), and training images/s with AMP.

Self-contained: random images, random weights (speed does not depend on them).
Writes bench-results/bench_model.json.

    .venv/bin/python benchmarks/bench_model.py [--runs 3] [--threads 2] [--models ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.model.device import amp_dtype  # noqa: E402
from core.model.registry import MODEL_NAMES, count_parameters, create_model  # noqa: E402

SHAPE = (640, 768)  # rows, cols: the paper's 768×640 crop


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def time_forward(model, x, *, runs: int, dtype=None) -> list[float]:
    """Seconds per forward pass of ``x`` (one warm-up first)."""
    device = x.device
    times = []
    for i in range(runs + 1):
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            model(x)
        _sync(device)
        if i:
            times.append(time.perf_counter() - t0)
    return times


def cpu_inference(names, *, runs: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    x = torch.rand(1, 3, *SHAPE)
    out = {}
    for name in names:
        torch.manual_seed(0)
        model = create_model(name).eval()
        times = time_forward(model, x, runs=runs)
        out[name] = {
            "params": count_parameters(model),
            "median_s": statistics.median(times),
            "runs_s": times,
        }
        print(f"  cpu  {name:<24} {out[name]['median_s']:8.3f} s/image", flush=True)
    return out


def gpu_figures(names, *, runs: int) -> dict:
    device = torch.device("cuda")
    dtype = amp_dtype(device)
    res: dict = {"device": torch.cuda.get_device_name(device), "amp_dtype": str(dtype)}
    for name in names:
        torch.manual_seed(0)
        model = create_model(name).to(device).eval()
        entry: dict = {}
        for label, dt in (("fp32", None), ("amp", dtype)):
            x1 = torch.rand(1, 3, *SHAPE, device=device)
            entry[f"batch1_{label}_s"] = statistics.median(
                time_forward(model, x1, runs=runs, dtype=dt)
            )
            best = (1, 1.0 / entry[f"batch1_{label}_s"])
            for bs in (2, 4, 8, 16, 32):
                try:
                    xb = torch.rand(bs, 3, *SHAPE, device=device)
                    t = statistics.median(time_forward(model, xb, runs=runs, dtype=dt))
                except torch.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    break
                if bs / t > best[1]:
                    best = (bs, bs / t)
            entry[f"best_batch_{label}"] = best[0]
            entry[f"best_images_per_s_{label}"] = best[1]
        # training throughput with AMP
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
        bs = 4
        xb = torch.rand(bs, 3, *SHAPE, device=device)
        yb = torch.rand(bs, 2, *SHAPE, device=device)
        times = []
        for i in range(runs + 2):
            _sync(device)
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=dtype):
                loss = torch.nn.functional.mse_loss(torch.sigmoid(model(xb).float()), yb)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            _sync(device)
            if i >= 2:
                times.append(time.perf_counter() - t0)
        entry["train_images_per_s_amp_batch4"] = bs / statistics.median(times)
        res[name] = entry
        print(
            f"  cuda {name:<24} b1 fp32 {entry['batch1_fp32_s'] * 1e3:7.1f} ms  b1 amp "
            f"{entry['batch1_amp_s'] * 1e3:7.1f} ms  best amp {entry['best_images_per_s_amp']:7.1f} "
            f"img/s (b{entry['best_batch_amp']})  train {entry['train_images_per_s_amp_batch4']:6.1f} img/s",
            flush=True,
        )
        del model, opt
        torch.cuda.empty_cache()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "bench_model.json"))
    args = ap.parse_args()

    print(
        f"CPU inference, {SHAPE[1]}x{SHAPE[0]} image, batch 1, {args.threads} threads, "
        f"median of {args.runs}:"
    )
    cpu = cpu_inference(args.models, runs=args.runs, threads=args.threads)
    result = {
        "shape": list(SHAPE),
        "threads": args.threads,
        "runs": args.runs,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "processor": platform.processor(),
        "cpu": cpu,
    }
    if "proposed" in cpu and "unet" in cpu:
        ratio = cpu["proposed"]["median_s"] / cpu["unet"]["median_s"]
        result["ratio_proposed_over_unet_cpu"] = ratio
        print(f"ratio proposed / unet (CPU): {ratio:.3f}")
    if torch.cuda.is_available():
        print("GPU:")
        gpu = gpu_figures(args.models, runs=max(args.runs, 5))
        result["gpu"] = gpu
        if "proposed" in gpu and "unet" in gpu:
            result["ratio_proposed_over_unet_gpu_b1_amp"] = (
                gpu["proposed"]["batch1_amp_s"] / gpu["unet"]["batch1_amp_s"]
            )
            print(
                f"ratio proposed / unet (GPU, batch 1, AMP): "
                f"{result['ratio_proposed_over_unet_gpu_b1_amp']:.3f}"
            )
    else:
        result["gpu"] = None
        print("no CUDA device: GPU figures skipped")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
