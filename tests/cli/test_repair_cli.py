"""`skintrace import --fast`, `status` damage reports, `repair`, export's skipped lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from app.cli import main
from core.imageio import encode_png
from core.project import Project


def _faces(folder: Path, rng: np.random.Generator) -> Path:
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"f{i}.png").write_bytes(
            encode_png(rng.integers(0, 256, (16, 20, 3), dtype=np.uint8))
        )
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / "cut.jpg")
    data = (folder / "cut.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
    return folder


def test_import_skips_undecodable_and_fast_then_export_names_it(tmp_path, rng, capsys):
    src = _faces(tmp_path / "faces", rng)
    proj, fast = tmp_path / "proj", tmp_path / "fast"
    for p in (proj, fast):
        main(["new", str(p)])
    capsys.readouterr()
    assert main(["import", str(proj), str(src), "-q"]) == 0
    out, err = capsys.readouterr()
    assert "added 3 image(s)" in out and "skipped 1 unreadable" in out
    assert f"unreadable: {src / 'cut.jpg'}: image is corrupt or truncated" in err
    assert main(["import", str(fast), str(src), "-q", "--fast"]) == 0
    assert "added 4 image(s)" in capsys.readouterr().out
    assert main(["status", str(fast)]) == 0
    out = capsys.readouterr().out
    assert "1 image(s) that cannot be opened (export skips them):" in out
    assert "cut.jpg" in out
    assert main(["export", str(fast), str(tmp_path / "ds"), "--status", "new", "-q"]) == 0
    out = capsys.readouterr().out
    assert "wrote 3 item(s)" in out
    assert "skipped 1 image(s) that cannot be opened:" in out and "  cut.jpg: " in out


def test_status_shows_damaged_masks_and_repair_clears_them(tmp_path, rng, capsys):
    src = _faces(tmp_path / "faces", rng)
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    main(["import", str(proj), str(src), "-q"])
    with Project.open(proj) as p:
        ids = [r.id for r in p.images()]
        for i in ids:
            p.save_rough(i, {"wrinkle": rng.random((16, 20)) > 0.5})
    (proj / "masks" / str(ids[0]) / "wrinkle.png").write_bytes(b"not a png")
    (proj / "masks" / str(ids[1]) / "wrinkle.png").unlink()
    (proj / "exports" / "ds.partial-999999999-abc").mkdir()  # a killed export's folder
    (proj / "exports" / "ds.partial-999999999-abc" / "x.png").write_bytes(b"x" * 1000)
    capsys.readouterr()
    assert main(["status", str(proj)]) == 0
    out = capsys.readouterr().out
    assert "1 rough mask(s) damaged; `skintrace repair` clears them (keeps a backup):" in out
    assert f"{ids[0]}: masks/{ids[0]}/wrinkle.png does not match the catalog" in out
    assert "1 rough mask(s) missing" in out and f"masks/{ids[1]}/wrinkle.png is missing" in out
    assert "1 leftover(s) of killed runs (0.0 MB); `skintrace repair` removes them:" in out
    assert main(["repair", str(proj)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cleared 2 damaged file(s); removed 1 leftover(s) of killed runs")
    assert "kept as masks/" in out and "ds.partial-999999999-abc" in out
    assert list((proj / "masks" / str(ids[0])).glob("wrinkle.damaged-*.png"))
    assert not (proj / "exports" / "ds.partial-999999999-abc").exists()
    assert main(["status", str(proj)]) == 0
    out = capsys.readouterr().out
    assert "damaged" not in out and "missing" not in out and "leftover" not in out
    assert main(["repair", str(proj)]) == 0
    assert capsys.readouterr().out == "nothing to repair\n"


def test_repair_lists_missing_images_for_the_user(tmp_path, rng, capsys):
    src = _faces(tmp_path / "faces", rng)
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    main(["import", str(proj), str(src), "-q"])
    (src / "f1.png").unlink()
    capsys.readouterr()
    assert main(["repair", str(proj)]) == 1
    out = capsys.readouterr().out
    assert "1 problem(s) need you" in out
    assert f"not repaired: image 2: {src / 'f1.png'} is missing; relink it" in out
