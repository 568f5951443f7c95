"""Issue 16, case 3: SIGKILL inside the folder swap of ``export --force`` (injected with
strace at the swap's exchange and at the last rename of the process) leaves a complete
dataset at OUT, the old one or the new one, never no dataset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core.atomic as atomic
from app.cli import main
from core.dataset import read_manifest
from core.imageio import encode_png
from core.project import Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_kill_inside_the_swap_of_export_force_leaves_a_complete_dataset(tmp_path, rng):
    src = tmp_path / "faces"
    src.mkdir()
    for i in range(2):
        (src / f"f{i}.png").write_bytes(
            encode_png(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
        )
    proj, out = tmp_path / "proj", tmp_path / "ds"
    assert main(["new", str(proj)]) == 0 and main(["import", str(proj), str(src), "-q"]) == 0
    with Project.open(proj) as p:
        for rec in p.images():
            p.set_status(rec.id, "in_progress")
            p.set_status(rec.id, "submitted")
    assert main(["export", str(proj), str(out), "--status", "submitted", "-q"]) == 0
    old = {i.id for i in read_manifest(out).items}
    with Project.open(proj) as p:
        p.set_status(p.images()[0].id, "accepted")
    cmd = [sys.executable, "-m", "app", "export", str(proj), str(out), "--force", "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*strace: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["strace", "-f", "-qq", *strace, *cmd], capture_output=True, text=True, env=env
        )

    log = tmp_path / "renames.log"
    traced = run("-o", str(log), "-e", "trace=rename,renameat,renameat2")
    if traced.returncode != 0:
        pytest.skip(f"strace cannot trace here: {traced.stderr.strip()[:200]}")
    calls = log.read_text().splitlines()
    renames = [c for c in calls if " rename(" in c or " renameat(" in c]
    exchanges = [c for c in calls if "RENAME_EXCHANGE" in c]
    if atomic._renameat2 is None:
        pytest.skip("no renameat2 on this platform; the fallback swap is tested in core")
    assert len(exchanges) == 1, "export --force must swap with one RENAME_EXCHANGE"
    new = {i.id for i in read_manifest(out).items}  # the traced run replaced it
    assert new == {p.name.split(".")[0] for p in (out / "images").iterdir()}
    for inject, expected in (
        ("inject=renameat2:signal=KILL:when=1", "old or new"),  # at the exchange
        (f"inject=rename,renameat:signal=KILL:when={len(renames)}", "new"),  # the last one
    ):
        killed = run("-o", os.devnull, "-e", inject)
        assert killed.returncode in (137, -9), killed.stderr
        items = {i.id for i in read_manifest(out).items}  # complete: every file is there
        assert items in ((old, new) if expected == "old or new" else (new,))
        for leftover in tmp_path.iterdir():
            if leftover.name.startswith(("ds.partial-", ".ds.previous")):
                shutil.rmtree(leftover)  # what `skintrace repair` deletes
