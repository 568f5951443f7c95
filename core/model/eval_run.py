"""The evaluation entry point of retraining: ``python -m core.model.eval_run DATASET ...``.

Scores checkpoints (and optionally the image-processing baselines) on one split of a GT
dataset in one run, so all are scored on the same images, and writes the report as JSON
(:meth:`core.model.evaluate.EvalReport.to_dict`, atomically). Background retraining runs
it after :mod:`core.model.run` (:func:`core.assist.retrain.evaluate_command`); ``skintrace
evaluate`` is the command for people (a table, a progress bar).

Exit status 0, or 1 with one line ``skintrace: error: ...`` on stderr (a bad checkpoint or
dataset, nothing to evaluate). torch is imported only when the evaluation starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from core.errors import SkinTraceError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core.model.eval_run",
        description="Score checkpoints and baselines on one split; write the JSON report.",
    )
    p.add_argument("dataset", help="GT dataset folder")
    p.add_argument("--checkpoint", action="append", default=[], help="checkpoint (repeatable)")
    p.add_argument("--baselines", action="store_true", help="also score the baselines")
    p.add_argument("--split", choices=("val", "train", "all"), default="val")
    p.add_argument("--json", dest="json_out", required=True, help="the report to write")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate as the arguments say; exit 0, 1 (one-line error) or 2 (usage)."""
    args = _parser().parse_args(argv)
    try:
        from core.atomic import atomic_write_text
        from core.model.evaluate import evaluate_iter

        last = None
        progress = evaluate_iter(
            args.dataset,
            checkpoints=args.checkpoint,
            baselines=args.baselines,
            split=args.split,
            device=args.device,
            threads=args.threads,
        )
        for step in progress:
            last = step
        if last is None or "report" not in last.info:
            raise SkinTraceError("evaluation produced no report")
        report = last.info["report"].to_dict()
        atomic_write_text(args.json_out, json.dumps(report, indent=2) + "\n")
    except SkinTraceError as exc:
        print(f"skintrace: error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("skintrace: error: evaluation ran out of memory", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
