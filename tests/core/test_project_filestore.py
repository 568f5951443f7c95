"""FileStore.saving: the stage → commit → install protocol shared by masks and pre-labels."""

from __future__ import annotations

import pytest

from core.errors import ProjectError
from core.project.masks import FileStore, MaskFileError, read_consistent


def test_saving_installs_every_staged_file_when_the_block_succeeds(tmp_path):
    store = FileStore(tmp_path, "masks")
    with store.saving(3) as stage:
        stage("wrinkle", b"new wrinkle")
        stage("pore", b"new pore")
        # Step 1 only: nothing is live before the block (the catalog commit) ends.
        assert not store.path(3, "wrinkle").exists()
    assert store.path(3, "wrinkle").read_bytes() == b"new wrinkle"
    assert store.path(3, "pore").read_bytes() == b"new pore"
    assert not list(tmp_path.glob("masks/*/*.pending"))


def test_saving_discards_staged_files_and_keeps_the_old_ones_when_the_block_fails(tmp_path):
    store = FileStore(tmp_path, "masks")
    with store.saving(3) as stage:
        stage("wrinkle", b"old")
    with pytest.raises(ProjectError, match="commit failed"), store.saving(3) as stage:
        stage("wrinkle", b"new")
        raise ProjectError("commit failed")
    assert store.path(3, "wrinkle").read_bytes() == b"old"
    assert not list(tmp_path.glob("masks/*/*.pending"))


def test_read_consistent_rereads_a_moved_catalog_only_when_asked_to():
    catalogs = iter([["v1"], ["v2"]])
    reads: list[list[str]] = []

    def read(rows: list[str]) -> str:
        reads.append(rows)
        if rows == ["v1"]:
            raise MaskFileError("masks/1/pore.png does not match the catalog")
        return rows[0]

    assert read_consistent(lambda: next(catalogs), read, retry=True) == "v2"
    assert reads == [["v1"], ["v2"]]
    with pytest.raises(MaskFileError):
        read_consistent(lambda: ["v1"], read, retry=False)
