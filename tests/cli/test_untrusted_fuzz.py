"""Fuzzing checkpoint configs, dataset manifests and options through the real CLI entry point.

For every generated input: no traceback escapes, the exit code is 1 (refused) or 2
(usage), and the output folder is exactly as it was. Values that are *valid* are
skipped with ``assume`` (they would rightly run), so each example is a hostile or
careless file. Derandomized and 20 examples per test, so CI stays fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.cli import main
from core.model.checkpoint import CONFIG, save_checkpoint
from core.model.registry import create_model
from tests.core.test_model_data import make_dataset

FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CPU = ["--device", "cpu", "--threads", "1", "-q"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    ck = root / "ck"
    save_checkpoint(
        ck,
        create_model("proposed", width=4, zero_pad=4),
        name="proposed",
        config={"width": 4, "zero_pad": 4},
        metadata={"mask_levels": {"wrinkle": 20.0, "pore": 30.0}},
    )
    image = root / "face.png"
    cv2.imwrite(str(image), np.full((24, 32, 3), 120, np.uint8))
    dataset = make_dataset(root / "ds", n=2, shape=(32, 40))
    return ck, image, dataset


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _run(argv: list[str], out: Path) -> None:
    """Run the CLI; assert it refused in one line, without a traceback or a write."""
    before = _snapshot(out)
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code
    text = err.getvalue() + std.getvalue()
    assert rc in (1, 2), (rc, text)
    assert "Traceback" not in text, text
    assert re.search(r"^skintrace: error: |^usage: ", text, re.MULTILINE), text
    assert _snapshot(out) == before


def _out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    (out / "keep.txt").write_text("results of an earlier run")
    return out


def _valid(field: str, value) -> bool:
    """Whether ``value`` is one the checkpoint above would rightly run with."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if field == "zero_pad":
        return is_int and 0 <= value <= 512 or value is None
    if field == "width":
        return is_int and value == 4
    if field == "mask_levels":
        return value is None or (
            isinstance(value, dict)
            and set(value) <= {"wrinkle", "pore"}
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 255
                for v in value.values()
            )
        )
    if field == "params":
        return value is None or (is_int and value >= 0)
    return False


@FUZZ
@given(
    field=st.sampled_from(
        ["width", "zero_pad", "in_channels", "out_channels", "mask_levels", "params", "name"]
    ),
    value=json_values,
)
def test_fuzzed_checkpoint_field_is_refused(sources, tmp_path, field, value):
    ck, image, _ = sources
    assume(not _valid(field, value))
    bad = tmp_path / "ck"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(ck, bad)
    doc = json.loads((bad / CONFIG).read_text())
    section = {"mask_levels": "metadata", "params": "metadata", "name": None}.get(field, "config")
    (doc if section is None else doc[section])[field] = value
    (bad / CONFIG).write_text(json.dumps(doc))
    out = _out(tmp_path)
    _run(["predict", str(bad), str(image), "--out", str(out), *CPU], out)


@FUZZ
@given(document=json_values | st.binary(max_size=64).map(lambda b: b.decode("latin-1")))
def test_fuzzed_whole_config_is_refused(sources, tmp_path, document):
    ck, image, _ = sources
    bad = tmp_path / "ck"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(ck, bad)
    text = document if isinstance(document, str) else json.dumps(document)
    (bad / CONFIG).write_text(text, encoding="utf-8", errors="surrogateescape")
    out = _out(tmp_path)
    _run(["predict", str(bad), str(image), "--out", str(out), *CPU], out)


MANIFEST_FIELDS = ["format_version", "classes", "items", "id", "split", "image", "gt", "rows"]


@FUZZ
@given(field=st.sampled_from(MANIFEST_FIELDS), value=json_values)
def test_fuzzed_manifest_field_is_refused(sources, tmp_path, field, value):
    ck, _, dataset = sources
    ds = tmp_path / "ds"
    shutil.rmtree(ds, ignore_errors=True)
    shutil.copytree(dataset, ds)
    doc = json.loads((ds / "manifest.json").read_text())
    item = doc["items"][0]
    original = doc.get(field, item.get(field))
    assume(value != original)
    if field == "id":  # another well-formed, unique id is a valid dataset
        assume(
            not (
                isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", value)
            )
        )
    if field == "split":
        assume(value not in ("train", "val"))
    if field == "rows":
        assume(not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65536))
        assume(value is not None)
    (doc if field in ("format_version", "classes", "items") else item)[field] = value
    (ds / "manifest.json").write_text(json.dumps(doc))
    out = _out(tmp_path)
    argv = ["evaluate", str(ds), "--checkpoint", str(ck), "--split", "all"]
    _run([*argv, "--json", str(out / "report.json"), *CPU], out)


@FUZZ
@given(
    option=st.sampled_from(["--tile", "--batch-size", "--threads"]),
    value=st.text(min_size=1, max_size=8) | st.integers(-(2**40), 2**40).map(str),
)
def test_fuzzed_predict_options_are_refused(sources, tmp_path, option, value):
    ck, image, _ = sources
    # Values the parser accepts run (a huge --tile is refused by the memory check, tested
    # in test_untrusted_cli); here every value is malformed or out of range.
    is_int = re.fullmatch(r"\s*[+-]?\d+\s*", value) is not None
    assume(not (is_int and int(value) >= (64 if option == "--tile" else 1)))
    assume(not value.startswith("-") or is_int)  # "-x" is parsed as an option name
    out = _out(tmp_path)
    argv = ["predict", str(ck), str(image), "--out", str(out), "--device", "cpu", "-q"]
    _run([*argv, f"{option}={value}"], out)
