"""``jdzhi scan`` and ``jdzhi scans report``: field scanning of label photos, clone detection."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi._format.scanning import reported_scan_json, scan_outcome_json, scan_report_json
from jdzhi.commands import _common as common
from jdzhi.commands import _verdicts
from jdzhi.errors import ExitCode

if TYPE_CHECKING:
    from jdzhi.online.scans import ReportedScan, ReportedScans
    from jdzhi.trace.scanning.decode import ScanOutcome
    from jdzhi.trace.scanning.log import ScanRun

__all__ = ["scan", "scans_app"]

scans_app = typer.Typer(help="The scan log: what inspectors scanned, and suspected clones.",
                        no_args_is_help=True)

_HEADLINE = {
    "genuine": "GENUINE — a licensed Jingdezhen Zhi piece",
    "suspected-clone": "SUSPECTED CLONE — this genuine label turns up too often or too far apart",
    "unreadable": "UNREADABLE — no QR code could be read",
    "tampered": "TAMPERED — the label's signature does not match",
    "unknown-key": "UNKNOWN KEY — not signed by a certified licensee",
    "revoked": "REVOKED — signed after the license was revoked",
    "suspended": "SUSPENDED — signed while the license was suspended",
    "expired": "EXPIRED — signed outside the license's validity",
    "malformed": "MALFORMED — not a Jingdezhen Zhi label",
    "stale-trust": "STALE TRUST — cannot confirm: the trust data is out of date",
    "recalled": "RECALLED — the registry withdrew this item",
}


def scan(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(
        metavar="IMAGE_OR_DIR...",
        help="Photos or scanner images of labels (JPEG, PNG, ...), or folders of them.")],
    trust: common.VerifyTrustOption = None,
    authority: common.AuthorityOption = None,
    max_age: common.MaxAgeOption = None,
    witness: common.WitnessOption = None,
    inspector: Annotated[str, typer.Option(
        "--inspector", metavar="ID", help="Who scans, for the scan log.")] = "",
    location: Annotated[str, typer.Option(
        "--location", metavar="TEXT",
        help="Where: a place name, or 'lat,lon' in degrees (enables the travel-speed check).",
    )] = "",
    max_scans: Annotated[int, typer.Option(
        "--max-scans",
        help="A serial seen more often than this within the window is a suspected clone.")] = 20,
    max_locations: Annotated[int, typer.Option(
        "--max-locations",
        help="... or at more distinct locations than this.")] = 3,
    window_days: Annotated[float, typer.Option(
        "--window-days", help="The clone-detection time window, in days.")] = 30.0,
    max_speed: Annotated[float, typer.Option(
        "--max-speed", help="Fastest plausible travel between two sightings, km/h.")] = 900.0,
    no_log: Annotated[bool, typer.Option(
        "--no-log", help="Do not record the scans (and skip clone detection).")] = False,
    server: common.ServerOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Scan label photos: find every QR code, verify it, and check for cloned serials.

    Each code gets a verdict (genuine, tampered, unknown-key, revoked, suspended, expired,
    malformed, stale-trust, recalled, suspected-clone); a photo with no readable code is
    unreadable. A folder stands for its image files, in name order. Every scan is recorded in the
    home's scan log. Exit 0 only when every code is genuine.

    With --server URL every code is then reported to the service center as the inspector whose
    token is in $JDZHI_INSPECTOR_TOKEN: its scan log may see a clone this home cannot. The
    center can take a genuine verdict away, never give one. Exit 11 when it cannot be reached
    (the scans stay in this home's log).

    Examples: jdzhi scan IMG_0412.jpg --inspector insp-07 --location "Jingdezhen";
    jdzhi scan photos/ --trust trust.cbor --location 29.27,117.18 --json;
    JDZHI_INSPECTOR_TOKEN=... jdzhi scan IMG_0412.jpg --server https://trace.example.cn
    """

    from jdzhi.online.client import check_server_url, inspector_token
    from jdzhi.similarity.screen import expand_inputs
    from jdzhi.trace.scanning.log import ClonePolicy
    from jdzhi.trace.scanning.log import scan as run_scan

    token = ""
    if server is not None:  # checked before anything is scanned or logged
        server, token = check_server_url(server), inspector_token()
    pinned = None
    if authority:
        from jdzhi.trace.keys.keyfile import read_public_key

        pinned = read_public_key(authority)
    policy = ClonePolicy(max_scans=max_scans, max_locations=max_locations,
                         window_days=window_days, max_speed_kmh=max_speed)
    # a folder stands for its images; a file goes as it is (scan names a missing or bad one)
    files = [file for path in images
             for file in (expand_inputs([path]) if path.is_dir() else [path])]
    with common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("scanning", total=len(files))
        run = run_scan(files, home=common.home_of(ctx), bundle=trust, authority=pinned,
                       max_age_days=max_age, witnesses=witness or (), inspector=inspector,
                       location=location,
                       policy=policy, log=not no_log,
                       progress=lambda n: bar.advance(task, n))
    common.warn(run.warnings)
    if server is None:
        _show(run.outcomes, None, as_json)
    else:
        _report(run, server, token, inspector, location, as_json)
    if not run.all_genuine:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def _report(run: ScanRun, server: str, token: str, inspector: str, location: str,
            as_json: bool) -> None:
    """Report the codes to the center, show the verdicts with its word, and fail as it did."""
    from jdzhi.online.scans import report_scans

    with common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("reporting", total=len(run.outcomes))
        reported = report_scans(server, token, run.outcomes, inspector=inspector,
                                location=location, logged=run.logged,
                                progress=lambda n: bar.advance(task, n))
    _show(tuple(scan.outcome for scan in reported.scans), reported, as_json)
    if reported.error is not None:
        raise reported.error
    if not all(scan.outcome.genuine for scan in reported.scans):
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def _show(outcomes: tuple[ScanOutcome, ...], reported: ReportedScans | None,
          as_json: bool) -> None:
    """The verdicts (with the center's word when ``reported``): JSON, or a block each."""
    if as_json:
        common.emit_json([reported_scan_json(scan) for scan in reported.scans] if reported else
                         [scan_outcome_json(outcome) for outcome in outcomes])
        return
    for index, outcome in enumerate(outcomes):
        common.out.print(f"[bold]{escape(outcome.image)}[/]", highlight=False)
        subject = (f"serial {outcome.serial or '?'} — "
                   f"{outcome.enterprise or 'unknown enterprise'}"
                   if outcome.serial or outcome.enterprise else "")
        _verdicts.print_verdict(_HEADLINE.get(outcome.verdict, outcome.verdict.upper()),
                                outcome.verdict, subject, outcome.reasons,
                                outcome.verification.endorsement if outcome.verification
                                else None)
        if reported is not None:
            _show_center(reported.scans[index], reported.server)
    _verdicts.print_summary((outcome.verdict for outcome in outcomes), "code")


def _show_center(scan: ReportedScan, server: str) -> None:
    """The center's word on one code: its verdict's source, the check count, a warning."""
    center = scan.center
    if center is None:
        if scan.outcome.text is not None:
            common.out.print("  center: not reported", highlight=False)
        return
    source = ("verdict from the center" if scan.verdict_from == "center"
              else f"the center says {center.verdict}")
    checked = (f"checked {common.plural(center.checks, 'time')}, first on "
               f"{center.first_checked_at}" if center.checks else "not checked before")
    common.out.print(f"  center ({escape(server)}): {escape(source)}; {escape(checked)}",
                     highlight=False)
    if center.clone_warning:
        common.out.print(f"  [magenta]warning:[/] {escape(center.clone_warning)}",
                         highlight=False)


@scans_app.command("report")
def report(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """Summarize the scan log per enterprise and list suspected clones.

    Example: jdzhi scans report --json
    """
    from jdzhi.trace.scanning.log import report as scan_report

    result = scan_report(common.home_of(ctx))
    if as_json:
        common.emit_json(scan_report_json(result))
        return
    common.out.print(f"{common.plural(result.total, 'scan')}: " + (", ".join(
        f"{n} {v}" for v, n in result.verdicts.items()) or "none yet"))
    if result.enterprises:
        table = common.result_table("Scans per enterprise", ("enterprise", "fold"),
                                    ("scans", "number"), ("serials", "number"),
                                    ("verdicts", "fold"))
        for entry in result.enterprises:
            table.add_row(escape(entry.enterprise), str(entry.scans), str(entry.serials),
                          ", ".join(f"{n} {v}" for v, n in sorted(entry.verdicts.items())))
        common.out.print(table)
    if result.clones:
        table = common.result_table("Suspected clones", ("enterprise", "fold"),
                                    ("serial", "whole"), ("flagged", "number"),
                                    ("sightings", "number"), ("locations", "fold"),
                                    ("last seen", "whole"), title_style="bold magenta")
        for clone in result.clones:
            table.add_row(escape(clone.enterprise), escape(clone.serial), str(clone.flagged),
                          str(clone.sightings), escape("; ".join(clone.locations)),
                          clone.last_seen)
        common.out.print(table)
    else:
        common.out.print("No suspected clones.")
