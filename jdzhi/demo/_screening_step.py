"""The demo's screening step: SAMPLE works registered, a modified copy and an innocent
look-alike screened, and the officer's visual report."""

from __future__ import annotations

from jdzhi._format.demo import step_verdicts_json
from jdzhi._format.similarity import screening_json
from jdzhi.demo.context import DemoContext, StepReport, VerdictRow


def screen_designs(ctx: DemoContext) -> StepReport:
    from jdzhi.demo._drawings import (
        LOOK_ALIKE,
        OWNER,
        WORKS,
        cropped_mirror,
        draw_piece,
        registration_no,
        save_sample_png,
    )
    from jdzhi.similarity.report import check_report_path, write_report
    from jdzhi.similarity.screen import screen_paths
    from jdzhi.similarity.works import import_works

    works_dir = ctx.subfolder("works")
    rows = ["image,reg_no,title,owner,creation_date"]
    for index, design in enumerate(WORKS, start=1):
        image = save_sample_png(draw_piece(design), works_dir / f"{design.slug}.png")
        rows.append(f"{image.name},{registration_no(index)},{design.name},{OWNER},2025-0{index}-15")
    works_csv = works_dir / "works.csv"
    works_csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    submissions = ctx.subfolder("submissions")
    original = WORKS[0]
    copy = save_sample_png(cropped_mirror(draw_piece(original)),
                           submissions / f"cropped-mirrored-{original.slug}.png")
    look_alike = save_sample_png(draw_piece(LOOK_ALIKE),
                                 submissions / f"look-alike-{LOOK_ALIKE.slug}.png")
    report_path = ctx.folder / "screening-report.html"
    check_report_path(report_path, force=False)
    with ctx.registry() as db:
        works = import_works(db, works_csv)
        results = screen_paths(db, [copy, look_alike], top=3)
        write_report(db, results, report_path, top=3)
    cases = ((f"{copy.name}: {original.name} cropped and mirrored", "copy"),
             (f"{look_alike.name}: same shape and palette, another pattern", "clear"))
    lines = [f"Registered {len(works)} SAMPLE works of {OWNER} from {works_csv} (each picture "
             "drawn procedurally: blue-and-white vases, jars, plates and bowls)."]
    for (subject, expected), result in zip(cases, results, strict=True):
        ctx.verdicts.append(VerdictRow("screen", subject, "works screen",
                                       result.verdict.value, expected))
        best = result.matches[0] if result.matches else None
        shown = (f" — best match {best.reg_no} {best.title}, distance {best.distance}, "
                 f"score {best.score:.2f}"
                 + (f", {best.modification}" if best.modification else "")) if best else ""
        lines.append(f"{subject}: {result.verdict}{shown}")
    lines.append(f"The officer's visual report, each submission beside its matches: "
                 f"{report_path}")
    return StepReport("screen", "A copyright officer screens submissions", tuple(lines),
                      {"works": [work.reg_no for work in works], "works_csv": str(works_csv),
                       "report": str(report_path),
                       "screenings": [screening_json(result) for result in results],
                       "verdicts": step_verdicts_json(ctx, "screen")})
