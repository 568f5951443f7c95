"""Untrusted files: bounded reading, schemas, safetensors headers, catalog rows, retraining."""

from __future__ import annotations

import json
import os
import sqlite3
import struct

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save as st_save

from core.assist.retrain import Decision, RetrainError, register_model, rollback
from core.bounded import (
    check_regular_file,
    json_depth,
    loads_bounded,
    read_json_bounded,
    read_safetensors_header,
)
from core.errors import CheckpointError, DatasetError, ProjectError
from core.model.checkpoint import CONFIG, WEIGHTS, save_checkpoint, verify_checkpoint
from core.model.registry import create_model
from core.schemas import CheckpointDocument, check_checkpoint_folder, validate
from tests.core.test_prelabel import make_project


def _tiny(path, **config):
    net = create_model("reduced-unet", width=4, **config)
    return save_checkpoint(path, net, name="reduced-unet", config={"width": 4}, metadata={})


# ----------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('{"a": [1, {"b": []}]}', 4),
        ('"[[[[[[["', 0),  # brackets in a string do not nest
        ('["\\"[[[", [[]]]', 3),  # nor after an escaped quote
        ("[" * 5000 + "]" * 5000, 5000),
    ],
)
def test_json_depth_counts_nesting_without_recursion(text, depth):
    assert json_depth(text) == depth


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


_tricky = st.text(alphabet='[]{}"\\ab\n', max_size=8)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.recursive(
        st.none() | st.integers() | _tricky,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_tricky, inner, max_size=3),
        max_leaves=12,
    )
)
def test_json_depth_matches_the_parsed_structure(value):
    # Strings full of brackets, quotes and backslashes never fool the scan.
    assert json_depth(json.dumps(value)) == _depth(value)
    assert json_depth(json.dumps(value, ensure_ascii=False, indent=1)) == _depth(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 40 + "]" * 40, "nested 40 levels deep; the limit is 32"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ("9" * 5000, "corrupt"),  # longer than Python converts to an int
        ("x" * 101, "101 characters long"),
        ("{broken", "corrupt or cannot be read"),
    ],
)
def test_loads_bounded_refuses_with_one_line(text, message):
    with pytest.raises(DatasetError, match=message) as exc:
        loads_bounded(text, what="doc", error=DatasetError, max_chars=100 if "x" in text else 10**6)
    assert "\n" not in str(exc.value)


def test_only_regular_files_inside_the_folder_are_read(tmp_path):
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / "a.json").write_text("{}")
    os.symlink(folder / "a.json", folder / "inside.json")
    assert (
        read_json_bounded(folder / "inside.json", error=CheckpointError, max_bytes=10, root=folder)
        == {}
    )
    (tmp_path / "secret.json").write_text("{}")
    os.symlink(tmp_path / "secret.json", folder / "outside.json")
    with pytest.raises(CheckpointError, match="symlink to a file outside"):
        check_regular_file(
            folder / "outside.json", error=CheckpointError, max_bytes=10, root=folder
        )
    os.mkfifo(folder / "fifo.json")  # reading it would block forever
    with pytest.raises(CheckpointError, match="not a regular file"):
        check_regular_file(folder / "fifo.json", error=CheckpointError, max_bytes=10, root=folder)
    os.symlink("/dev/zero", folder / "zero")
    with pytest.raises(CheckpointError, match="outside"):
        check_regular_file(folder / "zero", error=CheckpointError, max_bytes=10, root=folder)
    with pytest.raises(CheckpointError, match="not a regular file"):
        check_regular_file(folder / "zero", error=CheckpointError, max_bytes=10)  # no root
    (folder / "big.json").write_text(" " * 11)
    with pytest.raises(CheckpointError, match="at most"):
        check_regular_file(folder / "big.json", error=CheckpointError, max_bytes=10)


# ----------------------------------------------------------------------------- safetensors


def _header_file(path, header: dict, data: bytes = b"", n: int | None = None) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if n is None else n) + raw + data)


def test_a_real_safetensors_header_is_read_without_the_tensors(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(st_save({"a": torch.zeros(2, 3), "b": torch.zeros(4, dtype=torch.int64)}))
    entries = read_safetensors_header(f, error=CheckpointError, max_bytes=10**6)
    assert {k: (e.dtype, e.shape) for k, e in entries.items()} == {
        "a": ("F32", (2, 3)),
        "b": ("I64", (4,)),
    }


@pytest.mark.parametrize(
    ("header", "data", "n", "message"),
    [
        ({}, b"", 2**40, "header claims 1099511627776 bytes"),
        (
            {"a": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 4]}},
            b"\0" * 4,
            None,
            "declares shape",
        ),
        (
            {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
            b"\0" * 8,
            None,
            "the file has",
        ),
        (
            {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
            b"\0" * 8,
            None,
            "starts at byte 4",
        ),
        (
            {"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}},
            b"\0" * 4,
            None,
            "unknown dtype",
        ),
        (
            {"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}},
            b"\0" * 4,
            None,
            "shape",
        ),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"", None, "byte range"),
        ({"a": [1]}, b"", None, "not described by an object"),
    ],
)
def test_a_lying_safetensors_header_is_refused_before_reading(tmp_path, header, data, n, message):
    f = tmp_path / "w.safetensors"
    _header_file(f, header, data, n)
    with pytest.raises(CheckpointError, match=message):
        read_safetensors_header(f, error=CheckpointError, max_bytes=10**6)


def test_weights_of_another_shape_or_dtype_are_refused_from_the_header(tmp_path):
    ck = _tiny(tmp_path / "ck")
    wide = create_model("reduced-unet", width=8).state_dict()
    (ck / WEIGHTS).write_bytes(st_save(dict(wide)))
    with pytest.raises(
        CheckpointError,
        match=r"does not match .* mis-shaped tensors, e\.g\. \S+ is F32 \[16, 8, 3, 3\], expected F32 \[8, 4, 3, 3\]",
    ):
        verify_checkpoint(ck)
    half = {
        k: v.half() if v.is_floating_point() else v
        for k, v in create_model("reduced-unet", width=4).state_dict().items()
    }
    (ck / WEIGHTS).write_bytes(st_save(half))
    with pytest.raises(CheckpointError, match="is F16"):
        verify_checkpoint(ck)
    extra = dict(create_model("reduced-unet", width=4).state_dict())
    extra["payload"] = torch.zeros(10)
    (ck / WEIGHTS).write_bytes(st_save(extra))
    with pytest.raises(CheckpointError, match="1 unexpected"):
        verify_checkpoint(ck)


def test_validation_is_a_function_any_storage_can_call(tmp_path):
    # A team server hands over a parsed config.json: the same schema refuses it.
    with pytest.raises(
        ProjectError, match=r"row 7: config\.width: Input should be a valid integer"
    ):
        validate(
            CheckpointDocument,
            {"format": "x", "format_version": 1, "name": "unet", "config": {"width": True}},
            what="row 7",
            error=ProjectError,
        )
    doc, tensors = check_checkpoint_folder(_tiny(tmp_path / "ck"))
    assert doc.name == "reduced-unet" and "outc.conv.weight" in tensors


# ----------------------------------------------------------------------------- projects


def _decision() -> Decision:
    return Decision(True, {"wrinkle": 0.3, "pore": 0.2}, None, "val", 3, "test")


def test_retraining_refuses_a_bad_candidate_and_registers_nothing(tmp_path):
    with make_project(tmp_path, count=2) as project:
        good = register_model(project, _tiny(tmp_path / "good"), _decision())
        bad = _tiny(tmp_path / "bad")
        doc = json.loads((bad / CONFIG).read_text())
        doc["metadata"]["mask_levels"] = {"wrinkle": "high", "pore": 30}
        (bad / CONFIG).write_text(json.dumps(doc))
        with pytest.raises(RetrainError, match=r"metadata\.mask_levels\.wrinkle"):
            register_model(project, bad, _decision())
        assert [m.id for m in project.models()] == [good]
        assert project.current_model().id == good


def test_rollback_to_an_edited_checkpoint_is_refused(tmp_path):
    with make_project(tmp_path, count=2) as project:
        first_path = _tiny(tmp_path / "a")
        first = register_model(project, first_path, _decision())
        second = register_model(project, _tiny(tmp_path / "b"), _decision())
        (first_path / WEIGHTS).unlink()
        os.symlink("/dev/zero", first_path / WEIGHTS)
        with pytest.raises(
            RetrainError, match=f"model #{first} was not used .*current model stays"
        ):
            rollback(project)
        with pytest.raises(RetrainError, match="outside"):
            rollback(project, first)
        assert project.current_model().id == second


def test_catalog_rows_read_back_are_validated(tmp_path):
    with make_project(tmp_path, count=2) as project:
        root = project.root
        mid = project.add_model(tmp_path / "m", {"iou_wrinkle": 0.5})
        project.set_setting("retrain.after", 5)
        catalog = project.catalog_path
    db = sqlite3.connect(catalog)
    with db:
        db.execute("UPDATE models SET metrics_json = ? WHERE id = ?", ('{"iou": [' * 50, mid))
        db.execute(
            "UPDATE settings SET value_json = ? WHERE key = 'retrain.after'",
            ("[" * 3000 + "]" * 3000,),
        )
        db.execute("INSERT INTO model_log(model_id, time_utc, kind) VALUES ('one', 'x', 'current')")
    db.close()
    from core.project import Project

    with Project.open(root) as project:
        (model,) = project.models()  # still listed, its metrics not used as numbers
        assert model.metrics == {} and "metrics" in model.note and "nested" in model.note
        with pytest.raises(ProjectError, match="setting 'retrain.after' is nested 3000 levels"):
            project.get_setting("retrain.after")
        with pytest.raises(ProjectError, match="current model is 'one', not a model id"):
            project.current_model()
