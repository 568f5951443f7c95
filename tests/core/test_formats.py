"""The versioned-JSON reader shared by dataset manifests and checkpoint configs."""

from __future__ import annotations

import json

import pytest

from core.errors import DatasetError
from core.formats import read_versioned_json

ARGS = dict(format_name="demo", version=2, error=DatasetError, kind="demo folder", advice="fix it")


def test_reads_a_matching_document(tmp_path):
    f = tmp_path / "doc.json"
    f.write_text(json.dumps({"format": "demo", "format_version": 2, "x": 1}))
    assert read_versioned_json(f, **ARGS)["x"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "is not a demo folder: doc.json is missing"),
        ("{broken", "corrupt or cannot be read"),
        ("[1, 2]", "is not a demo document"),
        ('{"format": "other", "format_version": 2}', "is not a demo document"),
        ('{"format": "demo", "format_version": 3}', r"format version 3; .* version 2 \(fix it\)"),
    ],
)
def test_refuses_with_one_line_naming_the_file(tmp_path, text, message):
    f = tmp_path / "doc.json"
    if text is not None:
        f.write_text(text)
    with pytest.raises(DatasetError, match=message) as exc:
        read_versioned_json(f, **ARGS)
    assert "\n" not in str(exc.value)
