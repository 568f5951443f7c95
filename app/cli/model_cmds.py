"""Model subcommands: ``train``, ``predict`` and ``evaluate``.

torch is imported inside each command, so ``skintrace --help`` stays fast. Failures raise
SkinTraceError; the dispatcher prints the one-line message and exits 1.

``skintrace train`` builds a :class:`core.model.train_config.TrainConfig` from the options
given (and ``--config``); the others take its defaults. ``--progress-json`` prints the
progress lines of the core entry point ``python -m core.model.run`` (:mod:`core.model.run`:
``start``, one ``epoch`` per epoch, then ``done``, ``cancelled`` or ``error``). SIGTERM
and SIGINT cancel cleanly between batches: the best checkpoint stays in ``OUT/best`` and
the exit status is 130.

Checkpoints and datasets may come from elsewhere: they are validated before anything is
built or written (core.schemas, core.bounded, core.model.memory), so a bad one ends in
one line naming the file and the field, exit status 1, and an untouched output folder.
Should memory run out anyway, the command still ends in one line (``_one_line``).
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.args import int_at_least, non_negative_int, positive_float, positive_int

if TYPE_CHECKING:
    from core.progress import Progress

MODEL_NAMES = ("unet", "reduced-unet", "reduced-unet-attention", "proposed", "unet++")
#: Largest --width accepted (core.model_spec.MAX_WIDTH; repeated so --help stays torch-free).
MAX_WIDTH = 256
LOSSES = ("mse", "weighted-mse", "dice")
EXIT_CANCELLED = 130


def _one_line(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn running out of memory into the one-line error the dispatcher prints."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from core.errors import SkinTraceError

        try:
            return command(args)
        except MemoryError:
            raise SkinTraceError(
                f"{command.__name__[4:]} ran out of memory; lower --batch-size (or --tile), "
                "or use a machine with more memory"
            ) from None

    return run


def _add_device(p: argparse.ArgumentParser, *, device_default: str | None = "auto") -> None:
    p.add_argument(
        "--device",
        default=device_default,
        help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps (default auto)",
    )
    p.add_argument(
        "--threads", type=positive_int, help="torch CPU threads (default: torch's choice)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the skintrace parser."""
    p = sub.add_parser(
        "train",
        help="train a segmentation network on a GT dataset",
        description="Train on the train split of a GT dataset, validating on its val split "
        "every epoch. OUT/best is the checkpoint to use; OUT/last lets --resume continue. "
        "Options not given take the training defaults (core.model.train_config.TrainConfig; "
        "the Training dock of a project uses the same ones). Several GPUs or processes: "
        "torchrun --nproc_per_node=N -m app train ...",
    )
    p.add_argument("dataset", help="GT dataset folder (skintrace export)")
    p.add_argument("--model", choices=MODEL_NAMES, help="network (default proposed)")
    p.add_argument("--out", required=True, help="output folder for checkpoints")
    p.add_argument(
        "--config",
        metavar="JSON",
        help='a JSON object of training options (e.g. {"epochs": 100}); the options '
        "given on the command line override it",
    )
    p.add_argument("--epochs", type=positive_int, help="maximum epochs (default 30)")
    p.add_argument("--batch-size", type=positive_int, help="images per batch (default 4)")
    p.add_argument("--lr", type=positive_float, help="Adam learning rate (default 0.001)")
    p.add_argument(
        "--width",
        type=positive_int,
        help="base channels (default: the paper's width, 64 for unet, 32 for the others; "
        f"at most {MAX_WIDTH})",
    )
    p.add_argument(
        "--zero-pad",
        type=non_negative_int,
        help="proposed: zero padding per side, pixels (default 32)",
    )
    p.add_argument("--loss", choices=LOSSES, help="loss (default mse, the paper)")
    p.add_argument(
        "--patience",
        type=positive_int,
        help="stop after this many epochs without a better val loss (default 10)",
    )
    p.add_argument("--seed", type=non_negative_int, help="random seed (default 0)")
    p.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp16", "fp32"),
        help="mixed precision on CUDA (default auto: bf16 where supported)",
    )
    p.add_argument(
        "--workers",
        type=non_negative_int,
        help="data loading processes (default 0: load in the training process)",
    )
    p.add_argument(
        "--no-augment",
        dest="augment",
        action="store_const",
        const=False,
        help="train without augmentation",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in OUT")
    p.add_argument(
        "--progress-json",
        action="store_true",
        help="print one JSON object per line of progress on stdout (as python -m "
        "core.model.run does)",
    )
    _add_device(p, device_default=None)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "predict",
        help="predict wrinkle and pore maps for images",
        description="Write NAME_wrinkle.png and NAME_pore.png (uint8 magnitude maps at the "
        "input size) for each image; with --masks also NAME_wrinkle_mask.png etc. (0/255).",
    )
    p.add_argument("checkpoint", help="checkpoint folder (or a training OUT folder)")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--batch-size", type=positive_int, default=4, help="images per forward pass (default 4)"
    )
    p.add_argument("--masks", action="store_true", help="also write binary masks")
    p.add_argument(
        "--tile",
        type=int_at_least(64),
        default=1024,
        help="images with a side above this are predicted in tiles of this side "
        "(default 1024, at least 64)",
    )
    _add_device(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "evaluate",
        help="score checkpoints and baselines on a GT dataset (Tables 2 and 3)",
        description="Print params, loss and IoU per class (global and per image) for each "
        "checkpoint and, with --baselines, the image-processing methods.",
    )
    p.add_argument("dataset", help="GT dataset folder")
    p.add_argument(
        "--checkpoint", action="append", default=[], help="checkpoint folder (repeatable)"
    )
    p.add_argument(
        "--baselines",
        action="store_true",
        help="include the image-processing methods (Frangi wrinkles, k-means pores)",
    )
    p.add_argument(
        "--split",
        choices=("val", "train", "all"),
        default="val",
        help="which images of the dataset to score (default val)",
    )
    p.add_argument("--json", dest="json_out", help="also write the results to this JSON file")
    p.add_argument(
        "--batch-size", type=positive_int, default=4, help="images per forward pass (default 4)"
    )
    _add_device(p)
    p.set_defaults(func=cmd_evaluate)


# ----------------------------------------------------------------------------- train


#: Command-line options (argparse names) that set TrainConfig fields, and the fields.
TRAIN_OPTIONS = {
    "model": "model",
    "width": "width",
    "zero_pad": "zero_pad",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "loss": "loss",
    "patience": "patience",
    "seed": "seed",
    "device": "device",
    "precision": "precision",
    "augment": "augment",
    "workers": "num_workers",
    "threads": "threads",
}


def train_config(args: argparse.Namespace) -> Any:
    """The TrainConfig of a ``train`` command line: ``--config`` JSON, then the options given."""
    from core.bounded import MAX_CONFIG_BYTES, read_json_bounded
    from core.errors import SettingError
    from core.model.train_config import TrainConfig

    base: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise SettingError(f"--config {path}: no such file")
        base = read_json_bounded(path, error=SettingError, max_bytes=MAX_CONFIG_BYTES)
    given = {
        field: getattr(args, option)
        for option, field in TRAIN_OPTIONS.items()
        if getattr(args, option, None) is not None
    }
    config = TrainConfig.from_partial(base, what=f"--config {args.config}") if base else None
    return (config or TrainConfig()).replace(**given)


def _announce(progress: Iterator[Progress], *, quiet: bool) -> Iterator[Progress]:
    """Pass progress through, writing each epoch's line above the progress bar."""
    from tqdm import tqdm

    for p in progress:
        if p.info.get("event") == "epoch" and not quiet:
            tqdm.write(p.message, file=sys.stderr)
        yield p


@_one_line
def cmd_train(args: argparse.Namespace) -> int:
    from app.cli.progress import drive
    from core.errors import Cancelled
    from core.model.ddp import env_from_environ
    from core.model.run import print_event, progress
    from core.model.train_config import TrainJob
    from core.progress import CancelToken

    job = TrainJob(
        dataset=Path(args.dataset),
        out=Path(args.out),
        config=train_config(args),
        resume=args.resume,
    )
    main_rank = env_from_environ().is_main
    quiet = args.quiet or args.progress_json or not main_rank
    token = CancelToken()
    previous = {s: signal.signal(s, lambda *_: token.cancel()) for s in _signals()}
    try:
        events = progress(job, cancel=token, emit=print_event if args.progress_json else None)
        last = drive(_announce(events, quiet=quiet), desc="train", quiet=quiet)
    except Cancelled as exc:
        if main_rank:
            print(f"skintrace: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if last is not None and main_rank and not args.progress_json:
        info = last.info
        print(
            f"best epoch {info.get('best_epoch')}: val loss {info.get('best_val_loss'):.5f}; "
            f"checkpoint {info.get('best_checkpoint')} ({info.get('reason')})"
        )
    return 0


def _signals() -> list[signal.Signals]:
    return [signal.SIGINT, signal.SIGTERM]


# ----------------------------------------------------------------------------- predict


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, k = path.stem, 1
    while stem in used:
        k += 1
        stem = f"{path.stem}-{k}"
    used.add(stem)
    return stem


@_one_line
def cmd_predict(args: argparse.Namespace) -> int:
    from app.cli.progress import drive
    from core.errors import ImageLoadError, SkinTraceError
    from core.imageio import load_image, save_png
    from core.model.infer import DEFAULT_OVERLAP, Predictor
    from core.model.masks import maps_to_masks
    from core.progress import Progress

    predictor = Predictor(
        args.checkpoint,
        device=args.device,
        batch_size=args.batch_size,
        threads=args.threads,
        tile=args.tile,
        overlap=min(DEFAULT_OVERLAP, args.tile // 4),
    )
    paths = [Path(p) for p in args.images]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
        raise SkinTraceError(f"image file not found: {absent[0]}{more}; nothing was written")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SkinTraceError(f"{out} exists and is not a folder; choose another --out")
    used: set[str] = set()
    failed: list[str] = []

    def run() -> Iterator[Progress]:
        yield Progress(0, len(paths), "predicting")
        for start in range(0, len(paths), args.batch_size):
            # --batch-size images per forward pass (same-sized ones share it).
            chunk = paths[start : start + args.batch_size]
            loaded = []
            for path in chunk:
                try:
                    loaded.append((path, load_image(path).pixels))
                except ImageLoadError as exc:
                    # One unreadable file should not cost the maps of all the others.
                    failed.append(str(exc))
            images = [image for _, image in loaded]
            for (path, _), maps in zip(loaded, predictor.iter_predict(images), strict=True):
                out.mkdir(parents=True, exist_ok=True)
                stem = _unique_stem(path, used)
                for cls, arr in maps.items():
                    save_png(out / f"{stem}_{cls}.png", arr)
                if args.masks:
                    for cls, mask in maps_to_masks(maps, predictor.mask_levels).items():
                        save_png(out / f"{stem}_{cls}_mask.png", mask.astype("uint8") * 255)
            for n, path in enumerate(chunk, start + 1):
                yield Progress(n, len(paths), path.name)

    drive(run(), desc="predict", quiet=args.quiet)
    print(f"wrote maps for {len(paths) - len(failed)} image(s) to {out}")
    if failed:
        for reason in failed:
            print(f"  skipped: {reason}", file=sys.stderr)
        raise SkinTraceError(f"{len(failed)} of {len(paths)} image(s) could not be read")
    return 0


# ----------------------------------------------------------------------------- evaluate


@_one_line
def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.cli.progress import drive
    from core.atomic import atomic_write_text
    from core.errors import SkinTraceError
    from core.model.evaluate import evaluate_iter

    if not args.checkpoint and not args.baselines:
        raise SkinTraceError("nothing to evaluate: give --checkpoint CKPT and/or --baselines")
    if args.json_out and Path(args.json_out).is_dir():
        # Checked now, not after an evaluation that may take an hour.
        raise SkinTraceError(f"--json {args.json_out} is a folder; give a file name")
    last = drive(
        evaluate_iter(
            args.dataset,
            checkpoints=args.checkpoint,
            baselines=args.baselines,
            split=args.split,
            device=args.device,
            batch_size=args.batch_size,
            threads=args.threads,
        ),
        desc="evaluate",
        quiet=args.quiet,
    )
    if last is None or "report" not in last.info:
        raise SkinTraceError("evaluation produced no report")
    report = last.info["report"]
    print(report.table())
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json_out}")
    return 0
