"""The self-contained HTML screening report: each submission beside its closest works.

A header says when, by whom and against which registry the screening ran, and how many
submissions got each verdict; a legend explains the numbers. Per submission the matched work
(the best-ranked one of a copy or review) is singled out beside the other look-alikes; a clear
submission shows no works, as none is close.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.files import check_target, replace_atomically
from jdzhi.similarity.screen import Match, Screening, ScreenVerdict, count_verdicts

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = ["check_report_path", "render_report", "write_report"]

_COLOURS = {ScreenVerdict.COPY: "#c62828", ScreenVerdict.REVIEW: "#ef8f00",
            ScreenVerdict.CLEAR: "#2e7d32", ScreenVerdict.ERROR: "#6a1b9a"}

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:24px;color:#222}
h1{font-size:20px} .sub{border:1px solid #ddd;border-radius:8px;margin:14px 0;padding:12px}
.row{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0;width:170px;font-size:12px} img{max-width:160px;max-height:160px;
border:1px solid #ccc;display:block} .verdict{color:#fff;border-radius:4px;padding:2px 8px;
font-weight:bold} .tag{font-size:12px;color:#555} figcaption{margin-top:4px}
.matched{outline:3px solid #333;outline-offset:4px;border-radius:2px}
.reg{white-space:nowrap} dl.meta{display:grid;grid-template-columns:max-content auto;
gap:2px 12px;font-size:14px} dl.meta dt{color:#555} dl.meta dd{margin:0}
.legend{font-size:13px;color:#444;max-width:60em}
"""

_LEGEND = (
    "<p class=legend><b>How to read this.</b> <b>Score</b>: 0 to 1, 1 = identical; it is the "
    "stronger of the two kinds of evidence. <b>Distance</b>: PDQ perceptual-hash bits that "
    "differ, out of 256 (0 = same picture; at most 31 is a copy, at most 40 worth a look; "
    "unrelated photos sit near 128). <b>Keypoints</b>: distinct image corners that one "
    "plausible camera view maps onto the registered work (80 or more: a copy; 20 or more: "
    "worth a look); they find crops, re-photographs and pictures pasted into others. The "
    "<b>matched work</b> is outlined. A verdict is a screening aid: an officer decides.</p>")


def _img(data: bytes | None, alt: str) -> str:
    if not data:
        return "<div class=tag>(no picture)</div>"
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{encoded}" alt="{html.escape(alt)}">'


def _header(db: Database, results: Sequence[Screening]) -> str:
    from jdzhi.registry.audit import current_actor
    from jdzhi.timeutil import format_time, utc_now

    registry = db.location
    works = db.execute("SELECT COUNT(*) FROM works").fetchone()[0]
    counts = " · ".join(f"{count} {verdict}" for verdict, count in count_verdicts(results).items())
    facts = (("Screened", format_time(utc_now())), ("Operator", current_actor()),
             ("Registry", f"{registry} ({works} registered works)"),
             ("Submissions", f"{len(results)}: {counts}"))
    return ("<h1>Design-copy screening (景德镇制)</h1><dl class=meta>"
            + "".join(f"<dt>{name}</dt><dd>{html.escape(value)}</dd>" for name, value in facts)
            + "</dl>" + _LEGEND)


def _caption(match: Match, *, matched: bool) -> str:
    return ((("<b>matched work</b><br>" if matched else "")
             + f"<b class=reg>{html.escape(match.reg_no)}</b><br>{html.escape(match.title)}<br>"
             f"score {match.score:.2f} · distance {match.distance}")
            + (f" · {match.inliers} keypoints" if match.inliers else "")
            + (f"<br><i>{html.escape(match.modification)}</i>" if match.modification else ""))


def _submission(db: Database, result: Screening, top: int | None) -> str:
    from jdzhi.similarity.works import work_thumbnail

    colour = _COLOURS[result.verdict]
    parts = [f'<div class=sub style="border-left:6px solid {colour}">'
             f'<span class=verdict style="background:{colour}">{result.verdict}</span> '
             f"<b>{html.escape(result.image)}</b>"]
    if result.error:
        return "".join([*parts, f"<p>{html.escape(result.error)}</p></div>"])
    parts.append("<div class=row><figure>" + _img(result.thumbnail, "submission")
                 + "<figcaption>submission</figcaption></figure>")
    if result.verdict is ScreenVerdict.CLEAR:
        parts.append("<p class=tag>No registered work is close.</p>")
    else:
        for rank, match in enumerate(result.matches[:top]):
            matched = rank == 0
            parts.append(("<figure class=matched>" if matched else "<figure>")
                         + _img(work_thumbnail(db, match.work_id), match.reg_no)
                         + f"<figcaption>{_caption(match, matched=matched)}</figcaption>"
                         "</figure>")
    parts.append("</div></div>")
    return "".join(parts)


def render_report(db: Database, results: Sequence[Screening], *,
                  top: int | None = None) -> str:
    """The report's HTML; ``top``: the matches shown per submission (the command's own count;
    None: every match screened)."""
    parts = ["<!DOCTYPE html><html lang=zh><head><meta charset=utf-8>",
             "<title>jdzhi design-copy screening</title>", f"<style>{_STYLE}</style></head><body>",
             _header(db, results)]
    parts.extend(_submission(db, result, top) for result in results)
    parts.append("</body></html>")
    return "".join(parts)


def check_report_path(path: Path, *, force: bool) -> None:
    """Refuse an existing file (without ``force``) or a missing folder before any screening."""
    check_target(path, replace=force, what="report")


def write_report(db: Database, results: Sequence[Screening], path: Path, *,
                 top: int | None = None) -> None:
    replace_atomically(path, render_report(db, results, top=top).encode("utf-8"))
