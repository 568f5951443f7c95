"""replace_folder: the folder swap shared by dataset export and checkpoints."""

from __future__ import annotations

import os

import pytest

from core.atomic import previous_folder, replace_folder


def _folder(path, text):
    path.mkdir()
    (path / "f.txt").write_text(text)
    return path


def test_replace_folder_swaps_in_the_new_folder_and_leaves_nothing_behind(tmp_path):
    target = _folder(tmp_path / "out", "old")
    replace_folder(_folder(tmp_path / "new", "new"), target)
    assert (target / "f.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    replace_folder(_folder(tmp_path / "fresh", "x"), tmp_path / "absent")
    assert (tmp_path / "absent" / "f.txt").read_text() == "x"


def test_a_failed_second_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    import core.atomic as atomic

    monkeypatch.setattr(atomic, "_renameat2", None)  # the two-rename fallback
    target = _folder(tmp_path / "out", "old")
    new = _folder(tmp_path / "new", "new")
    real_rename = os.rename

    def crash_on_second(src, dst):
        if str(src) == str(new):
            raise OSError(5, "I/O error")  # the failure between the two renames
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", crash_on_second)
    with pytest.raises(OSError):
        replace_folder(new, target)
    assert (target / "f.txt").read_text() == "old"
    assert not previous_folder(target).exists()
