"""``skintrace report``: per-zone measurements of a project or dataset as CSV + HTML.

:func:`write_report` walks the images (a project's GT from its rough masks and, separately,
its stored pre-labels; or an exported dataset's GT), finds each face (the project's stored
face, else detection), measures every zone (:mod:`core.face.measure`) and writes
``OUT/measurements.csv`` and a self-contained ``OUT/report.html`` (tables per zone, overlay
thumbnails, one box plot per measure and zone across images; no network, no scripts).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.atomic import atomic_write_text
from core.face.landmarks import Face, FaceResult, LandmarkerUnavailable
from core.face.measure import MEASURES, ZoneMeasurement, measure_image, measure_titles
from core.face.store import Scale
from core.face.zones import ZONE_TITLES, ZONES, zone_masks, zone_polygons
from core.progress import CancelToken, Progress

WHOLE = "whole_image"
ZONE_TITLES_ALL = {**ZONE_TITLES, WHOLE: "Whole image"}
THUMB_COLS = 260
_COLORS = {"wrinkle": (230, 159, 0), "pore": (86, 180, 233)}  # Okabe-Ito orange / sky blue


@dataclass(frozen=True)
class ReportItem:
    """One image to report: its pixels, maps per source ("gt", "prelabel") and face."""

    name: str
    image: np.ndarray
    maps: Mapping[str, Mapping[str, np.ndarray]]
    face: Face | None
    state: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportRow:
    image: str
    source: str
    face: str
    m: ZoneMeasurement


Detect = Callable[[np.ndarray], FaceResult]


def _safe_detect(detect: Detect | None) -> Callable[[np.ndarray], tuple[Face | None, str]]:
    def run(image: np.ndarray) -> tuple[Face | None, str]:
        if detect is None:
            return None, "not detected"
        try:
            r = detect(image)
        except LandmarkerUnavailable as exc:
            return None, str(exc)
        return (r.face if r.state != "profile" else r.face), r.state

    return run


def project_items(project: Any, *, detect: Detect | None = None, statuses: Any = None) -> Iterator[ReportItem]:  # fmt: skip
    """The images of an open project, with GT from the rough masks and stored pre-labels."""
    from core.face.store import load_face
    from core.gt.engine import compute_gt
    from core.imageio import load_image

    find = _safe_detect(detect)
    for rec in project.images(status=statuses):
        image = load_image(rec.path).pixels
        gt = compute_gt(image, project.load_rough(rec.id), project.params(rec.id))
        maps: dict[str, Mapping[str, np.ndarray]] = {"gt": {str(k): v for k, v in gt.items()}}
        pre = project.load_prelabel(rec.id) if hasattr(project, "load_prelabel") else None
        if pre is not None:
            maps["prelabel"] = pre[0]
        stored = load_face(project.root, rec.id, content_hash=rec.content_hash)
        state: str
        if stored is not None:
            face, state = stored.face, stored.state
        else:
            face, state = find(image)
        yield ReportItem(rec.name, image, maps, face, state)


def dataset_items(folder: str | Path, *, detect: Detect | None = None) -> Iterator[ReportItem]:
    """The items of an exported GT dataset (its GT maps as written)."""
    from core.dataset import read_manifest
    from core.imageio import load_image

    find = _safe_detect(detect)
    manifest = read_manifest(folder)
    for item in manifest.items:
        image = load_image(item.image).pixels
        gt = {cls: np.asarray(cv2.imread(str(item.gt[cls]), cv2.IMREAD_GRAYSCALE)) for cls in ("wrinkle", "pore")}  # fmt: skip
        face, state = find(image)
        yield ReportItem(item.id, image, {"gt": gt}, face, state)


def measure_item(item: ReportItem, scale: Scale) -> tuple[list[ReportRow], dict[str, np.ndarray]]:
    """Rows for every source × zone of one image, and its zone masks."""
    shape = item.image.shape[:2]
    zones = zone_masks(item.face, shape) if item.face is not None else {}
    zones[WHOLE] = np.ones(shape, dtype=bool)
    ppm = scale.for_face(item.face)
    rows = []
    for source, maps in item.maps.items():
        for m in measure_image(maps, zones, px_per_mm=ppm):
            rows.append(ReportRow(item.name, source, item.state, m))
    return rows, zones


def write_report(
    items: Iterator[ReportItem] | list[ReportItem],
    out: str | Path,
    *,
    total: int,
    scale: Scale | None = None,
    title: str = "SkinTrace measurements",
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Measure every item and write ``OUT/measurements.csv`` and ``OUT/report.html``.

    Yields one Progress per image; the last one's ``info`` has ``csv``, ``html``, ``rows``,
    ``images`` and ``no_face`` (names of images measured as a whole only).
    """
    scale = scale or Scale()
    out = Path(out)
    rows: list[ReportRow] = []
    thumbs: list[tuple[str, str, str]] = []
    no_face: list[str] = []
    done = 0
    for item in items:
        if cancel is not None:
            cancel.raise_if_cancelled()
        item_rows, _zones = measure_item(item, scale)
        rows.extend(item_rows)
        if item.face is None:
            no_face.append(item.name)
        thumbs.append((item.name, item.state or "", _thumbnail(item)))
        done += 1
        yield Progress(done, total, f"measured {item.name}")
    csv_path, html_path = out / "measurements.csv", out / "report.html"
    atomic_write_text(csv_path, rows_to_csv(rows))
    atomic_write_text(html_path, rows_to_html(rows, thumbs, title=title, no_face=no_face))
    yield Progress(done, total, "done", info={"csv": str(csv_path), "html": str(html_path), "rows": len(rows), "images": done, "no_face": no_face})  # fmt: skip


CSV_FIELDS = ["image", "source", "face", "zone", "unit", "zone_area", *MEASURES]


def rows_to_csv(rows: list[ReportRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in rows:
        d = r.m.to_dict()
        w.writerow([r.image, r.source, r.face, r.m.zone, r.m.unit, _num(d["zone_area"])] + [_num(d[k]) for k in MEASURES])  # fmt: skip
    return buf.getvalue()


def _num(v: Any) -> str:
    if isinstance(v, int):
        return str(v)
    v = float(v)
    return "" if math.isnan(v) else f"{v:.4g}"


def _thumbnail(item: ReportItem) -> str:
    """A base64 PNG: the image with its GT in class colours and the zone outlines."""
    img = item.image
    f = THUMB_COLS / img.shape[1]
    small = cv2.resize(img, (THUMB_COLS, max(1, round(img.shape[0] * f))), interpolation=cv2.INTER_AREA)  # fmt: skip
    gt = item.maps.get("gt", {})
    for cls, color in _COLORS.items():
        if cls in gt:
            m = cv2.resize((np.asarray(gt[cls]) > 0).astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_AREA) > 0  # fmt: skip
            small[m] = (0.35 * small[m] + 0.65 * np.array(color)).astype(np.uint8)
    if item.face is not None:
        for rc in zone_polygons(item.face).values():
            pts = np.round(rc[:, ::-1] * f).astype(np.int32)
            cv2.polylines(small, [pts], True, (0, 230, 118), 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", small[:, :, ::-1])
    return base64.b64encode(png.tobytes()).decode("ascii") if ok else ""


def _box_svg(groups: list[tuple[str, list[float]]], title: str) -> str:
    """One box plot (median, quartiles, whiskers at min/max) per group, as inline SVG."""
    vals = [v for _, g in groups for v in g]
    w_box, pad_l, h = 46, 48, 190
    width = pad_l + w_box * max(1, len(groups)) + 50  # room for the last slanted label
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 70}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="4" y="14" font-size="12" font-weight="bold">{html.escape(title)}</text>']  # fmt: skip
    if not vals:
        parts.append('<text x="4" y="40" font-size="11">no values</text></svg>')
        return "".join(parts)
    lo, hi = min(vals), max(vals)
    if hi == lo:
        hi = lo + 1.0

    def y(v: float) -> float:
        return 24 + (h - 24) * (1 - (v - lo) / (hi - lo))

    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text x="{pad_l - 4}" y="{y(tick) + 4:.1f}" font-size="9" text-anchor="end">{tick:.3g}</text>'
                     f'<line x1="{pad_l}" x2="{width - 6}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>')  # fmt: skip
    for i, (name, g) in enumerate(groups):
        x = pad_l + i * w_box + w_box / 2
        label = html.escape(ZONE_TITLES_ALL.get(name, name))
        parts.append(f'<text transform="translate({x:.1f},{h + 8}) rotate(40)" font-size="9">{label}</text>')  # fmt: skip
        if not g:
            continue
        q0, q1, q2, q3, q4 = np.percentile(g, [0, 25, 50, 75, 100])
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(q4):.1f}" y2="{y(q0):.1f}" stroke="#333"/>'
            f'<rect x="{x - 14:.1f}" y="{y(q3):.1f}" width="28" height="{max(1.0, y(q1) - y(q3)):.1f}" fill="#56b4e9" stroke="#333"/>'
            f'<line x1="{x - 14:.1f}" x2="{x + 14:.1f}" y1="{y(q2):.1f}" y2="{y(q2):.1f}" stroke="#000" stroke-width="2"/>'
        )  # fmt: skip
        for v in g:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="2" fill="#e69f00" opacity="0.8"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """body{font-family:sans-serif;margin:16px;color:#222}table{border-collapse:collapse;margin:6px 0 18px}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}.thumbs{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;font-size:11px}.plots{display:flex;flex-wrap:wrap;gap:14px}.note{color:#a33}"""


def rows_to_html(rows: list[ReportRow], thumbs: list[tuple[str, str, str]], *, title: str, no_face: list[str]) -> str:  # fmt: skip
    """The self-contained report page."""
    unit = rows[0].m.unit if rows else "px"
    titles = measure_titles(unit)
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(title)}</h1><p>{len(thumbs)} images, measured from the ground truth"
           f"{' and the pre-labels' if any(r.source == 'prelabel' for r in rows) else ''}; lengths in {unit}.</p>"]  # fmt: skip
    if no_face:
        out.append(f"<p class='note'>No face on {len(no_face)} image(s), measured as a whole only: {e(', '.join(no_face[:20]))}</p>")  # fmt: skip
    out.append("<h2>Images</h2><div class='thumbs'>")
    for name, state, b64 in thumbs:
        out.append(f"<figure><img alt='{e(name)}' src='data:image/png;base64,{b64}'><figcaption>{e(name)} ({e(state)})</figcaption></figure>")  # fmt: skip
    out.append(
        "</div><h2>Across images (ground truth)</h2><p>One box per zone: median, quartiles, "
        "min-max whiskers; dots are images. Whole-image values are in the tables.</p><div class='plots'>"
    )
    zones_present = [
        z for z in (*ZONES, "t_zone", "butterfly", WHOLE) if any(r.m.zone == z for r in rows)
    ]
    gt_rows = [r for r in rows if r.source == "gt"]
    for key, t in titles.items():
        groups = []
        for z in zones_present:
            if z == WHOLE and len(zones_present) > 1:
                continue  # a whole-image total would flatten the zones' boxes
            vals = [float(getattr(r.m, key)) for r in gt_rows if r.m.zone == z]
            groups.append((z, [v for v in vals if not math.isnan(v)]))
        out.append(_box_svg(groups, t))
    out.append("</div><h2>Per zone</h2>")
    for z in zones_present:
        out.append(
            f"<h3>{e(ZONE_TITLES_ALL.get(z, z))}</h3><table><tr><th>Image</th><th>Source</th>"
        )
        out.extend(f"<th>{e(t)}</th>" for t in titles.values())
        out.append("</tr>")
        for r in rows:
            if r.m.zone != z:
                continue
            d = r.m.to_dict()
            out.append(f"<tr><td>{e(r.image)}</td><td>{e(r.source)}</td>" + "".join(f"<td>{_num(d[k])}</td>" for k in titles) + "</tr>")  # fmt: skip
        out.append("</table>")
    out.append("</body></html>\n")
    return "".join(out)
