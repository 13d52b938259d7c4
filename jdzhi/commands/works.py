"""``jdzhi works``: register protected designs and screen submissions for copies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi._format.similarity import screening_json, work_json
from jdzhi.commands import _common as common
from jdzhi.errors import ExitCode

if TYPE_CHECKING:
    from jdzhi.similarity.works import Work

app = typer.Typer(
    help=(
        "Protected works (design images) and design-copy screening: register works one by one "
        "or from a CSV, list, show and remove them, and screen submissions for copies "
        "(mirrored, rotated, cropped, recoloured, bordered, re-photographed, pasted...).\n\n"
        "A work is named by its registration number (国作登字-2024-F-00012345) or its id."
    ),
    no_args_is_help=True,
)

__all__ = ["app"]

_VERDICT_STYLE = {"copy": "bold red", "review": "yellow", "clear": "green", "error": "magenta"}


def _print_work(work: Work, verb: str) -> None:
    common.out.print(f"[green]{verb}[/] {escape(work.reg_no)} 《{escape(work.title)}》 "
                     f"by {escape(work.owner)} (id {work.id}, {work.width} x {work.height})",
                     highlight=False)


@app.command()
def register(
    ctx: typer.Context,
    image: Annotated[Path, typer.Argument(help="The work's design image (JPEG, PNG...).",
                                          dir_okay=False)],
    reg_no: Annotated[str, typer.Option("--reg-no", help="Copyright registration number, "
                                        "国作登字-YYYY-F-NNNNNNNN or provincial (赣作登字-...).")],
    title: Annotated[str, typer.Option(help="Title of the work.")],
    owner: Annotated[str, typer.Option(help="Copyright owner.")],
    created: Annotated[str | None, typer.Option(
        "--created", metavar="DATE", help="Creation date (YYYY-MM-DD).")] = None,
    as_json: common.JsonOption = False,
) -> None:
    """Register one protected work: check and fingerprint its image, store it, audit it.

    Example: jdzhi works register vase.jpg --reg-no 国作登字-2024-F-00012345
    --title 青花缠枝莲纹梅瓶 --owner 景德镇市青云陶瓷有限公司 --created 2023-05-01
    """
    from jdzhi.similarity.works import make_request, register_work

    request = make_request(image, reg_no, title, owner, created)
    with common.registry_of(ctx) as db:
        work = register_work(db, request)
    if as_json:
        common.emit_json(work_json(work))
    else:
        _print_work(work, "Registered")


@app.command(name="import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with columns image, reg_no, title, owner, "
                                         "creation_date.", dir_okay=False)],
    as_json: common.JsonOption = False,
) -> None:
    """Register every work of a CSV, or none (the first bad row is named; nothing is stored).

    Image paths are relative to the CSV's folder, or absolute; images are fingerprinted on all
    cores. Example CSV:

        image,reg_no,title,owner,creation_date
        img/vase.jpg,国作登字-2024-F-00012345,青花缠枝莲纹梅瓶,青云陶瓷,2023-05-01
    """

    from jdzhi.similarity.works import import_works

    with common.registry_of(ctx) as db, common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("Fingerprinting", total=None)
        works = import_works(db, file, progress=lambda n: bar.advance(task, n),
                             on_total=lambda total: bar.update(task, total=total),
                             on_encoding=lambda encoding: common.note_encoding(file, encoding))
    if not common.listing(as_json, works, work_json):
        common.out.print(f"[green]Registered[/] {common.plural(len(works), 'work')} from "
                         f"{escape(str(file))}")


@app.command(name="list")
def list_(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """List the registered works."""
    from jdzhi.similarity.works import list_works

    with common.registry_of(ctx) as db:
        works = list_works(db)
    if common.listing(as_json, works, work_json, none="No registered works yet: `jdzhi works "
                      "register` or `jdzhi works import`"):
        return
    # the registered day (--json has the time), so that whole registration numbers fit 80 columns
    table = common.result_table(common.plural(len(works), "registered work"), ("id", "number"),
                                ("registration no.", "whole"), ("title", "fold"),
                                ("owner", "fold"), ("created", "whole"), ("registered", "whole"))
    for work in works:
        table.add_row(str(work.id), escape(work.reg_no), escape(work.title), escape(work.owner),
                      work.creation_date or "", work.registered_at[:10])
    common.out.print(table)


@app.command()
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="WORK", help="Registration number or id.")],
    as_json: common.JsonOption = False,
) -> None:
    """Show one registered work."""
    from jdzhi.similarity.works import get_work

    with common.registry_of(ctx) as db:
        work = get_work(db, ref)
    if as_json:
        common.emit_json(work_json(work))
        return
    for name, value in work_json(work).items():
        common.out.print(f"[bold]{name}[/]: {escape(str(value))}", highlight=False)


@app.command()
def remove(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="WORK", help="Registration number or id.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
    as_json: common.JsonOption = False,
) -> None:
    """Remove a registered work and its fingerprints (the audit log keeps the record).

    Example: jdzhi works remove 国作登字-2024-F-00012345 --reason "registration withdrawn"
    """
    from jdzhi.similarity.works import remove_work

    with common.registry_of(ctx) as db:
        work = remove_work(db, ref, reason)
    if as_json:
        common.emit_json(work_json(work))
    else:
        _print_work(work, "Removed")


@app.command()
def screen(
    ctx: typer.Context,
    inputs: Annotated[list[Path], typer.Argument(
        metavar="IMAGE_OR_DIR...", help="Submitted images, or folders of them.")],
    top: Annotated[int, typer.Option("--top", "-k", help="Closest works listed per image.",
                                     min=1, max=100)] = 5,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Also write a self-contained HTML report (thumbnails embedded).",
        dir_okay=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the report if it exists.")
                     ] = False,
    as_json: common.JsonOption = False,
) -> None:
    """Screen submissions against every registered work: copy, review or clear.

    copy: near-certainly a registered work, possibly modified (mirrored, rotated, cropped,
    recoloured, bordered, re-photographed, pasted into another picture); review: a human should
    look; clear: nothing close. Exit code 1 when any image is copy or review (even if others
    could not be read), else 3 when an image could not be read (each is listed; the others are
    screened), else 0.

    Example: jdzhi works screen submissions/ --report screening.html
    """

    from jdzhi.similarity.report import check_report_path, write_report
    from jdzhi.similarity.screen import expand_inputs, screen_paths

    if report is not None:
        check_report_path(report, force=force)
    files = expand_inputs(inputs)
    with common.registry_of(ctx) as db:
        with common.progress_bar(quiet=as_json or len(files) < 2) as bar:
            task = bar.add_task("Screening", total=len(files))
            results = screen_paths(db, files, top=top, progress=lambda n: bar.advance(task, n))
        if report is not None:
            write_report(db, results, report, top=top)
    if not common.listing(as_json, results, screening_json):
        for result in results:
            style = _VERDICT_STYLE[result.verdict]
            common.out.print(f"[{style}]{result.verdict:6}[/] {escape(result.image)}"
                             + (f": {escape(result.error)}" if result.error else ""),
                             highlight=False)
            if result.verdict in ("copy", "review"):
                for match in result.matches[:top]:
                    common.out.print(
                        f"        {escape(match.reg_no)} 《{escape(match.title)}》 score "
                        f"{match.score:.2f}, distance {match.distance}"
                        + (f", {common.plural(match.inliers, 'keypoint')}" if match.inliers else "")
                        + (f" — {escape(match.modification)}" if match.modification else ""),
                        highlight=False)
        if report is not None:
            common.out.print(f"Report written to {escape(str(report))}", highlight=False)
    # a copy is what screening is for, so it outranks a file that could not be read
    if any(result.verdict in ("copy", "review") for result in results):
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
    if any(result.verdict == "error" for result in results):
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
