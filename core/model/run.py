"""The training entry point: ``python -m core.model.run JOB.json``, progress as JSON lines.

The job file (:class:`core.model.train_config.TrainJob`, written by
:func:`core.model.train_config.write_job`) names the dataset, the output folder, whether
to resume, and a partial :class:`~core.model.train_config.TrainConfig`. The process
prints one JSON object per line on stdout (rank 0 only under ``torchrun``):

* ``{"event": "start", "dataset", "out", "resume", ...every config option}``;
* one ``{"event": "epoch", ...}`` per epoch: ``epoch``, ``epochs``, ``train_loss``,
  ``val_loss``, ``iou_wrinkle``, ``iou_pore``, ``best``, ``best_val_loss``,
  ``best_epoch``, ``lr``, ``images_per_s``, ``val_on_train``;
* last, one of ``{"event": "done", "reason", "best_checkpoint", "best_epoch",
  "best_val_loss"}`` (exit 0), ``{"event": "cancelled", "message", "best_checkpoint"}``
  (SIGTERM or SIGINT between batches; exit 130) or ``{"event": "error", "message"}``
  (the one-line reason, also on stderr; exit 1).

``skintrace train --progress-json`` prints the same lines through :func:`progress`, and
the app's training dock reads them with :func:`parse_event`. Several processes:
``torchrun --nproc_per_node=N -m core.model.run JOB.json``.

torch is imported only when training starts, so :func:`parse_event` costs nothing.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.errors import Cancelled, SkinTraceError
from core.model.train_config import TrainJob, read_job
from core.progress import CancelToken, Progress

EXIT_CANCELLED = 130
#: The events a line may carry.
EVENTS = ("start", "epoch", "done", "cancelled", "error")
#: Longest progress line read back (an epoch record is well under 1 KiB).
MAX_LINE = 1 << 16

Emit = Callable[[dict[str, Any]], None]


def dumps_event(event: dict[str, Any]) -> str:
    """One progress line (no newline): strict JSON, no NaN."""
    return json.dumps(event, allow_nan=False, default=str)


def parse_event(line: bytes | str) -> dict[str, Any] | None:
    """A progress line read back: the event object, or None for anything else.

    Lines that are too long, not JSON, not an object or of an unknown event are
    skipped (a library may print to stdout too).
    """
    if len(line) > MAX_LINE:
        return None
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(event, dict) or event.get("event") not in EVENTS:
        return None
    return event


def event_of(progress: Progress) -> dict[str, Any] | None:
    """The line for a training Progress: epochs and the end; None for batches."""
    kind = progress.info.get("event")
    if kind == "epoch":
        return dict(progress.info)
    if kind == "done":
        return {k: v for k, v in progress.info.items() if k != "history"}
    return None


def start_event(job: TrainJob) -> dict[str, Any]:
    """The first line: where the run reads and writes, and every option."""
    return {
        "event": "start",
        "dataset": str(job.dataset),
        "out": str(job.out),
        "resume": job.resume,
        **job.config.to_dict(),
    }


def _kept(out: Path) -> str | None:
    best = out / "best"
    return str(best) if (best / "config.json").is_file() else None


def progress(
    job: TrainJob, *, cancel: CancelToken | None = None, emit: Emit | None = None
) -> Iterator[Progress]:
    """Train as ``job`` says, yielding Progress and passing each event line to ``emit``.

    ``emit`` is called on rank 0 only. A cancel or an error is emitted as its event and
    then raised (``Cancelled``, :class:`~core.errors.SkinTraceError`).
    """
    from core.model.ddp import env_from_environ

    def say(event: dict[str, Any]) -> None:
        if emit is not None and on_main:
            emit(event)

    on_main = True
    try:
        on_main = env_from_environ().is_main
        say(start_event(job))
        from core.model.train import train

        for p in train(
            job.dataset, out=job.out, config=job.config, resume=job.resume, cancel=cancel
        ):
            event = event_of(p)
            if event is not None:
                say(event)
            yield p
    except Cancelled as exc:
        say({"event": "cancelled", "message": str(exc), "best_checkpoint": _kept(job.out)})
        raise
    except SkinTraceError as exc:
        say({"event": "error", "message": str(exc)})
        raise
    except MemoryError:
        message = (
            "training ran out of memory; lower batch_size or width, or use a machine with "
            "more memory"
        )
        say({"event": "error", "message": message})
        raise SkinTraceError(message) from None


def print_event(event: dict[str, Any]) -> None:
    """Write one progress line on stdout, flushed (a parent process follows it)."""
    sys.stdout.write(dumps_event(event) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m core.model.run JOB.json``: train, print progress lines, exit 0/1/130."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(
            "usage: python -m core.model.run JOB.json\n"
            "Train as the job file says; print one JSON object per line of progress.",
            file=sys.stdout if args[:1] in (["-h"], ["--help"]) else sys.stderr,
        )
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    token = CancelToken()
    previous = {
        s: signal.signal(s, lambda *_: token.cancel()) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            job = read_job(args[0])
        except SkinTraceError as exc:
            print_event({"event": "error", "message": str(exc)})
            raise
        for _ in progress(job, cancel=token, emit=print_event):
            pass
    except Cancelled as exc:
        print(f"skintrace: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except SkinTraceError as exc:
        print(f"skintrace: error: {exc}", file=sys.stderr)
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
