"""Runs killed at random points leave nothing once the next run (or repair) has started.

Each writing run (import with copies, export, dataset from masks, training,
retraining) is started in a forked child and SIGKILLed at a seeded random moment of
its measured duration. Then the next run of the same kind starts (or ``repair``
runs), and every leftover file and byte is counted by names and rules written here,
independently of :mod:`core.leftovers`: the target is zero. The kills must also have
left something before the cleanup, or the test would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.dataset import read_manifest
from core.from_masks import dataset_from_masks
from core.imageio import encode_png
from core.project import Project
from core.project.repair import repair

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

SHAPE = (48, 64)
KILLS = 4


def _drain(gen) -> object:
    last = None
    for last in gen:  # noqa: B007
        pass
    return last


#: A run: ``work(began)`` calls ``began()`` when its timed part starts (after opening).
Work = Callable[[Callable[[], None]], None]


def _kill_after(work: Work, delay: float) -> int:
    """Run ``work`` in a forked child; SIGKILL it ``delay`` s after its timed part began.

    Returns the child's pid: the temp names it wrote carry it (``.NAME.<pid>-….tmp``,
    ``NAME.partial-<pid>-…``), so :func:`_mid_write` can tell a kill that landed while a
    write was in progress from one that landed between writes.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        os.close(r)
        try:
            work(lambda: os.write(w, b"1") and None)
        finally:
            os._exit(0)
    os.close(w)
    os.read(r, 1)  # the child began (or already ended); a loaded machine cannot skew it
    os.close(r)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return pid


def _mid_write(folder: Path, pid: int) -> bool:
    """True when the killed child ``pid`` left a temp name of its own under ``folder``.

    Such a name exists only between the start of a write and its final rename, so it
    is present at kill time exactly when the kill landed mid-write.
    """
    tags = (f".{pid}-", f".partial-{pid}-")
    return any(any(t in p.name for t in tags) for p in folder.rglob("*"))


def _timed(work: Work) -> float:
    start = [time.perf_counter()]
    work(lambda: start.__setitem__(0, time.perf_counter()))
    return time.perf_counter() - start[0]


def _is_temp(name: str) -> bool:
    return (
        (name.startswith(".") and name.endswith((".tmp", ".importing", ".previous", ".pending")))
        or ".partial-" in name
        or name.endswith(".creating")
    )


def _leftovers(folder: Path, *, project: Path | None = None) -> tuple[int, int]:
    """(files, bytes) of everything a killed run could leave under ``folder``."""
    paths: list[Path] = [p for p in folder.rglob("*") if _is_temp(p.name)]
    if project is not None and (project / "catalog.sqlite").exists():
        with Project.open(project, read_only=True) as p:
            listed = {r.path for r in p.images() if r.copied}
            used = [Path(m.path) for m in p.models()]
        paths += [f for f in (project / "images").iterdir() if f not in listed]
        for run in (project / "models").glob("run-*"):
            if not any(run == u or run in u.parents for u in used):
                paths.append(run)
    files = [f for p in set(paths) for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    dirs = [p for p in set(paths) if p.is_dir()]
    return len(files) + len(dirs), sum(f.stat().st_size for f in files)


def _assert_clean(folder: Path, *, project: Path | None = None, runs: int = 0) -> None:
    """Nothing left over, and every dataset folder left is complete."""
    assert _leftovers(folder, project=project) == (runs, 0)
    for manifest in folder.rglob("manifest.json"):
        read_manifest(manifest.parent)


def _images(folder: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"face{i:02d}.png").write_bytes(
            encode_png(rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8))
        )
    return folder


def _accepted_project(root: Path, src: Path) -> Path:
    rng = np.random.default_rng(1)
    with Project.create(root) as p:
        _drain(p.import_images(src))
        for r in p.images():
            p.save_rough(r.id, {c: rng.random(SHAPE) > 0.7 for c in ("wrinkle", "pore")})
            for s in ("submitted", "accepted"):
                p.set_status(r.id, s)
    return root


def test_killed_imports_with_copies_leave_nothing(tmp_path):
    src = _images(tmp_path / "src", 12)
    rng = np.random.default_rng(17)

    def work(root: Path) -> Work:
        def run(began: Callable[[], None]) -> None:
            with Project.open(root) as p:
                began()
                _drain(p.import_images(src, copy=True))

        return run

    Project.create(tmp_path / "timing").close()
    duration = _timed(work(tmp_path / "timing"))
    before = after = 0
    for k in range(KILLS):
        root = tmp_path / f"p{k}"
        Project.create(root).close()
        _kill_after(work(root), float(rng.uniform(0.1, 0.9)) * duration)
        before += _leftovers(root, project=root)[0]
        if k % 2:
            with Project.open(root) as p:  # the next import opens the project first
                _drain(p.import_images(src, copy=True))
                assert len(p) == 12
        else:
            with Project.open(root) as p:
                repair(p)
        _assert_clean(root, project=root)
        after += _leftovers(root, project=root)[0]
    assert before > 0 and after == 0


@pytest.mark.parametrize("kind", ["export", "from-masks"])
def test_killed_dataset_writes_leave_nothing(tmp_path, kind):
    src = _images(tmp_path / "src", 4)
    root = _accepted_project(tmp_path / "p", src)
    out = root / "exports" / "ds"
    masks = {c: tmp_path / c for c in ("wrinkle", "pore")}
    for folder in masks.values():
        folder.mkdir()
        for f in src.iterdir():
            (folder / f.name).write_bytes(encode_png(np.full(SHAPE, 255, np.uint8)))

    def run(began: Callable[[], None] = lambda: None) -> None:
        if kind == "export":
            with Project.open(root, read_only=True) as p:
                began()
                _drain(p.export(out, force=True))
        else:
            began()
            _drain(dataset_from_masks(src, masks["wrinkle"], masks["pore"], out, force=True))

    duration = _timed(run)  # also leaves a complete dataset, so later runs replace it
    rng = np.random.default_rng(23)
    before = mid_write = 0
    for k in range(KILLS):
        pid = _kill_after(run, float(rng.uniform(0.05, 1.0)) * duration)
        mid_write += _mid_write(root / "exports", pid)
        before += _leftovers(root / "exports")[0]
        if k % 2:
            run()
        else:
            with Project.open(root) as p:
                repair(p)
        _assert_clean(root / "exports")
    assert before > 0
    assert mid_write > 0, "no kill landed while the dataset was being written"


def test_killed_retraining_runs_leave_nothing(tmp_path):
    from core.assist.retrain import new_run, prepare_dataset

    src = _images(tmp_path / "src", 4)
    root = _accepted_project(tmp_path / "p", src)

    def retrain(began: Callable[[], None]) -> None:
        # The run's own writes (its dataset); its training is the test below.
        with Project.open(root) as p:
            began()
            run = new_run(p)
            _drain(prepare_dataset(p, run))

    duration = _timed(retrain)  # leaves one finished but unregistered run: a leftover too
    rng = np.random.default_rng(29)
    before = 0
    for k in range(3):
        _kill_after(retrain, float(rng.uniform(0.1, 1.0)) * duration)
        before += _leftovers(root, project=root)[0]
        if k % 2:
            with Project.open(root) as p:
                new_run(p)  # the next retraining run starts by cleaning up
        else:
            with Project.open(root) as p:
                repair(p)
        runs = list((root / "models").glob("run-*"))
        # At most the run just started (empty) is left, and nothing else.
        _assert_clean(root, project=root, runs=len(runs))
        for run in runs:
            run.rmdir()
    assert before > 0


def test_killed_training_saves_leave_nothing_once_training_starts_again(tmp_path):
    import torch

    from core.model.checkpoint import save_checkpoint
    from core.model.registry import create_model
    from core.model.train import train
    from tests.core.test_model_data import make_dataset

    torch.set_num_threads(1)
    ds = make_dataset(tmp_path / "ds", n=3, shape=(32, 40))
    out = tmp_path / "out"
    net = create_model("unet", width=2)

    def saving(began: Callable[[], None]) -> None:
        # Training's write path, over and over: the best and last checkpoints. The kill
        # delay counts from the first save done, so a slow start cannot swallow it.
        save_checkpoint(out / "best", net, name="unet", config={"width": 2})
        began()
        while True:
            for sub in ("best", "last"):
                save_checkpoint(out / sub, net, name="unet", config={"width": 2})

    start = time.perf_counter()
    save_checkpoint(out / "best", net, name="unet", config={"width": 2})
    one_save = time.perf_counter() - start
    rng = np.random.default_rng(31)
    before = mid_save = 0
    for _ in range(2):
        # About half the kills land inside a save (its pid-tagged temp folder exists at
        # kill time); kill until one has.
        for _ in range(12):
            pid = _kill_after(saving, float(rng.uniform(0.5, 4)) * one_save)
            landed = _mid_write(out, pid)
            mid_save += landed
            left = _leftovers(out)[0]
            before += left
            assert left or not landed, "a kill mid-save left no temp to clean"
            if landed:
                break
        for sub in ("best", "last"):  # the user starts again rather than resuming
            shutil.rmtree(out / sub, ignore_errors=True)
        _drain(train(ds, out=out, model="unet", width=2, epochs=1, batch_size=2, device="cpu"))
        _assert_clean(out)
        assert (out / "best" / "config.json").is_file()
    assert mid_save == 2, "a kill round never landed inside a save: the test proved nothing"
    assert before > 0, "no kill left anything to clean: the test proved nothing"
