"""``jdzhi label``: print QR traceability labels from signed records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from jdzhi._format.labels import label_run_json
from jdzhi.commands import _common as common

__all__ = ["label"]


def label(
    signed: Annotated[Path, typer.Argument(
        metavar="SIGNED.jsonl", dir_okay=False, help="Signed records from `jdzhi sign`.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="OUT",
        help="A .pdf file for print-ready sheets, or a folder for one image per label "
             "(named by serial). Never overwritten.")],
    image_format: Annotated[str, typer.Option(
        "--format", help="Image format for a folder OUT: png or svg.")] = "png",
    page: Annotated[str, typer.Option(
        "--page", help="Sheet size for PDF: a4, a5, a3 or letter.")] = "a4",
    width: Annotated[float, typer.Option("--width", help="Label width in mm.")] = 50.0,
    height: Annotated[float, typer.Option("--height", help="Label height in mm.")] = 25.0,
    columns: Annotated[int | None, typer.Option(
        "--columns", help="Labels across a sheet (default: as many as fit).")] = None,
    rows: Annotated[int | None, typer.Option(
        "--rows", help="Labels down a sheet (default: as many as fit).")] = None,
    margin: Annotated[float, typer.Option("--margin", help="Sheet margin in mm.")] = 10.0,
    gap: Annotated[float, typer.Option("--gap", help="Space between labels in mm.")] = 2.0,
    dpi: Annotated[int, typer.Option("--dpi", help="Resolution of PNG labels.")] = 600,
    level: Annotated[str, typer.Option(
        "--level", help="QR error correction: L, M, Q or H. The symbol must stay within "
                        "--max-version.")] = "M",
    max_version: Annotated[int, typer.Option(
        "--max-version", help="Largest QR version allowed (6 fits a 15 mm decal).")] = 6,
    cut_marks: Annotated[bool, typer.Option(
        "--cut-marks", help="Draw a thin grey outline around each label of a PDF, to cut along.")
    ] = False,
    as_json: common.JsonOption = False,
) -> None:
    """Print QR traceability labels: PDF sheets, or one PNG/SVG per label.

    Each label shows the QR code, 景德镇制 Jingdezhen Zhi, the enterprise's short name, the
    serial and the category; the Chinese font is embedded, so the PDF prints anywhere.

    Examples: jdzhi label batch.signed.jsonl --out batch-labels.pdf;
    jdzhi label batch.signed.jsonl --out labels/ --format svg --width 40 --height 20
    """

    from jdzhi.errors import InvalidInput
    from jdzhi.trace.labels.layout import SheetSpec
    from jdzhi.trace.labels.qr import ErrorCorrection
    from jdzhi.trace.labels.sheets import ImageFormat, label_file

    try:
        chosen_format = ImageFormat(image_format.lower())
    except ValueError:
        raise InvalidInput(f"--format {image_format!r} is not png or svg") from None
    try:
        chosen_level = ErrorCorrection(level.upper())
    except ValueError:
        raise InvalidInput(f"--level {level!r} is not one of L, M, Q, H") from None
    spec = SheetSpec(label_width=width, label_height=height, page=page.lower(), margin=margin,
                     gap=gap, columns=columns, rows=rows, dpi=dpi, level=chosen_level,
                     max_version=max_version, cut_marks=cut_marks)
    with common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("labels", total=None)
        run = label_file(signed, out, spec=spec, image_format=chosen_format,
                         progress=lambda n: bar.advance(task, n), parallel=True)
    if as_json:
        common.emit_json(label_run_json(run))
    elif run.kind == "pdf":
        common.out.print(f"[green]Printed[/] {common.plural(run.labels, 'label')} on "
                         f"{common.plural(run.pages, spec.page.upper() + ' page')} into "
                         f"{escape(str(run.out))} (QR version ≤ {run.max_version}, "
                         f"level {run.level})", highlight=False)
    else:
        common.out.print(f"[green]Wrote[/] "
                         f"{common.plural(run.labels, run.kind.upper() + ' label')} into "
                         f"{escape(str(run.out))} (QR version ≤ {run.max_version}, "
                         f"level {run.level})", highlight=False)
