"""What validating untrusted checkpoints and datasets costs, and how good the memory estimate is.

1. Memory estimate (core.model.memory.estimate: parameters counted on the meta device,
   activations from per-pixel coefficients) vs the real peak of one forward pass:
   on the CPU the peak resident memory (VmHWM after resetting it through
   /proc/self/clear_refs, minus VmRSS before), on CUDA ``max_memory_allocated``.
   Batch 1, fp32, no_grad, full-width networks. Median time of one estimate (cached
   estimates are cleared between runs).
2. Loading a checkpoint: median ms of read_checkpoint_info, verify_checkpoint (config +
   safetensors header + tensor shapes on the meta device) and load_checkpoint.
3. Reading JSON: a 20 000-item manifest-like document, json.loads vs
   core.bounded.loads_bounded (adds the depth scan).

Self-contained (random weights, generated documents). Writes bench-results/bench_untrusted.json.

    .venv/bin/python benchmarks/bench_untrusted.py [--runs 5] [--tiles 256 512] [--threads 2]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.bounded import loads_bounded  # noqa: E402
from core.errors import DatasetError  # noqa: E402
from core.model import memory  # noqa: E402
from core.model.checkpoint import (  # noqa: E402
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
    verify_checkpoint,
)
from core.model.registry import MODEL_NAMES, create_model  # noqa: E402


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_peak_bytes(net: torch.nn.Module, tile: int) -> int | None:
    """Peak resident bytes added by one forward pass (Linux only)."""
    x = torch.rand(1, 3, tile, tile)
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    before = _status_kb("VmRSS")
    with torch.no_grad():
        y = net(x)
    peak = _status_kb("VmHWM")
    del y
    return max(0, peak - before) * 1024


def cuda_peak_bytes(net: torch.nn.Module, tile: int) -> int:
    net = net.cuda()
    x = torch.rand(1, 3, tile, tile, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.no_grad():
        y = net(x)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del y
    net.cpu()
    torch.cuda.empty_cache()
    return int(peak)


def bench_estimate(tiles: list[int], runs: int) -> list[dict]:
    rows = []
    for name in MODEL_NAMES:
        net = create_model(name).eval()
        for tile in tiles:
            times = []
            for _ in range(runs):
                memory._weights.cache_clear()
                t0 = time.perf_counter()
                est = memory.estimate(name, {}, tile=tile)
                times.append(time.perf_counter() - t0)
            row = {
                "net": name,
                "tile": tile,
                "estimate_ms": 1000 * statistics.median(times),
                "est_activations_mb": est.activation_bytes / 2**20,
                "cpu_peak_mb": None,
                "cuda_peak_mb": None,
            }
            cpu = cpu_peak_bytes(net, tile)
            if cpu is not None:
                row["cpu_peak_mb"] = cpu / 2**20
            if torch.cuda.is_available():
                row["cuda_peak_mb"] = cuda_peak_bytes(net, tile) / 2**20
            rows.append(row)
    return rows


def bench_loading(runs: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ck = save_checkpoint(Path(tmp) / "ck", create_model("proposed"), name="proposed", config={})
        for label, fn in (
            ("read_checkpoint_info", read_checkpoint_info),
            ("verify_checkpoint", verify_checkpoint),
            ("load_checkpoint", load_checkpoint),
        ):
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                fn(ck)
                times.append(time.perf_counter() - t0)
            out[label + "_ms"] = 1000 * statistics.median(times)
    return out


def bench_json(runs: int) -> dict:
    item = {
        "id": "face00000",
        "image": "images/face00000.png",
        "gt": {"wrinkle": "gt/wrinkle/face00000.png", "pore": "gt/pore/face00000.png"},
        "masks": {"wrinkle": "masks/wrinkle/face00000.png", "pore": "masks/pore/face00000.png"},
        "rough": {"wrinkle": "rough/wrinkle/face00000.png", "pore": "rough/pore/face00000.png"},
        "status": "accepted",
        "split": "train",
        "content_hash": "0" * 64,
        "rows": 640,
        "cols": 768,
    }
    text = json.dumps({"format": "x", "items": [item] * 20_000}, indent=1)
    plain, bounded = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        json.loads(text)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loads_bounded(text, what="doc", error=DatasetError, max_chars=len(text))
        bounded.append(time.perf_counter() - t0)
    return {
        "mb": len(text) / 2**20,
        "json_loads_ms": 1000 * statistics.median(plain),
        "loads_bounded_ms": 1000 * statistics.median(bounded),
        "ratio": statistics.median(bounded) / statistics.median(plain),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {
        "estimate": bench_estimate(args.tiles, args.runs),
        "loading": bench_loading(args.runs),
        "json": bench_json(args.runs),
        "cuda": torch.cuda.is_available(),
    }
    print("memory estimate vs measured peak of one forward (batch 1, fp32), MiB")
    print(
        f"{'net':24} {'tile':>5} {'est ms':>7} {'estimate':>9} {'cpu peak':>9} {'est/cpu':>8}"
        f" {'cuda peak':>10} {'est/cuda':>9}"
    )
    for r in results["estimate"]:
        cpu, cuda, est = r["cpu_peak_mb"], r["cuda_peak_mb"], r["est_activations_mb"]
        cells = [
            "-" if cpu is None else f"{cpu:.1f}",
            "-" if not cpu else f"{est / cpu:.2f}",
            "-" if cuda is None else f"{cuda:.1f}",
            "-" if not cuda else f"{est / cuda:.2f}",
        ]
        print(
            f"{r['net']:24} {r['tile']:5d} {r['estimate_ms']:7.1f} {est:9.1f} "
            f"{cells[0]:>9} {cells[1]:>8} {cells[2]:>10} {cells[3]:>9}"
        )
    load = results["loading"]
    print("\ncheckpoint (proposed, width 32), median ms")
    for key, value in load.items():
        print(f"  {key:28} {value:8.1f}")
    js = results["json"]
    print(
        f"\nJSON {js['mb']:.1f} MiB: json.loads {js['json_loads_ms']:.1f} ms, "
        f"loads_bounded {js['loads_bounded_ms']:.1f} ms ({js['ratio']:.2f}×)"
    )
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "bench_untrusted.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
