"""The self-contained HTML screening report: each submission beside its closest works."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.files import replace_atomically
from jdzhi.similarity.screen import Screening

if TYPE_CHECKING:
    import sqlite_utils

_COLOURS = {"copy": "#c62828", "review": "#ef8f00", "clear": "#2e7d32", "error": "#6a1b9a"}

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:24px;color:#222}
h1{font-size:20px} .sub{border:1px solid #ddd;border-radius:8px;margin:14px 0;padding:12px}
.row{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0;width:170px;font-size:12px} img{max-width:160px;max-height:160px;
border:1px solid #ccc;display:block} .verdict{color:#fff;border-radius:4px;padding:2px 8px;
font-weight:bold} .tag{font-size:12px;color:#555} figcaption{margin-top:4px}
"""


def _img(data: bytes | None, alt: str) -> str:
    if not data:
        return "<div class=tag>(no picture)</div>"
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{encoded}" alt="{html.escape(alt)}">'


def render_report(db: sqlite_utils.Database, results: Sequence[Screening]) -> str:
    from jdzhi.similarity.works import work_thumbnail

    counts = {verdict: sum(r.verdict == verdict for r in results) for verdict in _COLOURS}
    parts = ["<!DOCTYPE html><html lang=zh><head><meta charset=utf-8>",
             "<title>jdzhi design-copy screening</title>", f"<style>{_STYLE}</style></head><body>",
             "<h1>Design-copy screening (景德镇制)</h1><p>",
             " · ".join(f"{count} {verdict}" for verdict, count in counts.items()), "</p>"]
    for result in results:
        colour = _COLOURS[result.verdict]
        parts.append(f'<div class=sub style="border-left:6px solid {colour}">'
                     f'<span class=verdict style="background:{colour}">{result.verdict}</span> '
                     f"<b>{html.escape(result.image)}</b>")
        if result.error:
            parts.append(f"<p>{html.escape(result.error)}</p></div>")
            continue
        parts.append("<div class=row><figure>" + _img(result.thumbnail, "submission")
                     + "<figcaption>submission</figcaption></figure>")
        for match in result.matches:
            caption = (f"<b>{html.escape(match.reg_no)}</b><br>{html.escape(match.title)}<br>"
                       f"score {match.score:.2f} · distance {match.distance}"
                       + (f" · {match.inliers} keypoints" if match.inliers else "")
                       + (f"<br><i>{html.escape(match.modification)}</i>"
                          if match.modification else ""))
            parts.append("<figure>" + _img(work_thumbnail(db, match.work_id), match.reg_no)
                         + f"<figcaption>{caption}</figcaption></figure>")
        parts.append("</div></div>")
    parts.append("<p class=tag>Scores: 1 = identical; distances are PDQ bit differences out of "
                 "256 (unrelated photos sit near 128). A verdict is a screening aid: an officer "
                 "decides.</p></body></html>")
    return "".join(parts)


def check_report_path(path: Path, *, force: bool) -> None:
    """Refuse an existing file (without ``force``) or a missing folder before any screening."""
    if path.is_dir():
        raise InvalidInput(f"report {path} is a folder")
    if path.exists() and not force:
        raise Conflict(f"report {path} exists; pass --force to replace it")
    if not path.parent.exists():
        raise InvalidInput(f"report {path}: the folder {path.parent} does not exist")


def write_report(db: sqlite_utils.Database, results: Sequence[Screening], path: Path) -> None:
    replace_atomically(path, render_report(db, results).encode("utf-8"))
