"""``jdzhi scan`` and ``jdzhi scans report``: field scanning of label photos, clone detection."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi.commands._common import (
    AuthorityOption,
    JsonOption,
    MaxAgeOption,
    VerifyTrustOption,
    emit_json,
    err_console,
    home_of,
    progress_bar,
)
from jdzhi.errors import ExitCode

if TYPE_CHECKING:
    from jdzhi.trace.scanning.decode import ScanOutcome

scans_app = typer.Typer(help="The scan log: what inspectors scanned, and suspected clones.",
                        no_args_is_help=True)

_STYLE = {"genuine": "green", "unreadable": "yellow", "suspected-clone": "magenta",
          "revoked": "red", "suspended": "red", "expired": "red", "tampered": "red",
          "unknown-key": "red", "malformed": "red", "stale-trust": "yellow", "recalled": "red"}
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


def _panel(outcome: ScanOutcome) -> None:
    from rich.panel import Panel

    style = _STYLE.get(outcome.verdict, "red")
    lines = [f"[bold {style}]{escape(_HEADLINE.get(outcome.verdict, outcome.verdict.upper()))}[/]"]
    if outcome.serial or outcome.enterprise:
        lines.append(f"serial {escape(outcome.serial or '?')} — "
                     f"{escape(outcome.enterprise or 'unknown enterprise')}")
    lines += [f"• {escape(reason)}" for reason in outcome.reasons]
    err_console.print(Panel("\n".join(lines), title=escape(outcome.image), title_align="left",
                            border_style=style))


def scan(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(
        metavar="IMAGE...", help="Photos or scanner images of labels (JPEG, PNG, ...).")],
    trust: VerifyTrustOption = None,
    authority: AuthorityOption = None,
    max_age: MaxAgeOption = None,
    inspector: Annotated[str, typer.Option(
        "--inspector", metavar="ID", help="Who scans, for the scan log.")] = "",
    location: Annotated[str, typer.Option(
        "--location", metavar="TEXT",
        help="Where: a place name, or 'lat,lon' in degrees (enables the travel-speed check).",
    )] = "",
    max_scans: Annotated[int, typer.Option(
        "--max-scans", help="A serial seen more often than this within the window is a "
                            "suspected clone.")] = 20,
    max_locations: Annotated[int, typer.Option(
        "--max-locations", help="... or at more distinct locations than this.")] = 3,
    window_days: Annotated[float, typer.Option(
        "--window-days", help="The clone-detection time window, in days.")] = 30.0,
    max_speed: Annotated[float, typer.Option(
        "--max-speed", help="Fastest plausible travel between two sightings, km/h.")] = 900.0,
    no_log: Annotated[bool, typer.Option(
        "--no-log", help="Do not record the scans (and skip clone detection).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Scan label photos: find every QR code, verify it, and check for cloned serials.

    Each code gets a verdict (genuine, tampered, unknown-key, revoked, suspended, expired,
    malformed, stale-trust, recalled, suspected-clone); a photo with no readable code is
    unreadable. Every scan is recorded in the home's scan log. Exit 0 only when every code is
    genuine.

    Examples: jdzhi scan IMG_0412.jpg --inspector insp-07 --location "Jingdezhen";
    jdzhi scan *.jpg --trust trust.cbor --location 29.27,117.18 --json
    """

    from jdzhi.trace.scanning.log import ClonePolicy
    from jdzhi.trace.scanning.log import scan as run_scan

    pinned = None
    if authority:
        from jdzhi.trace.keys.keyfile import read_public_key

        pinned = read_public_key(authority)
    policy = ClonePolicy(max_scans=max_scans, max_locations=max_locations,
                         window_days=window_days, max_speed_kmh=max_speed)
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task("scanning", total=len(images))
        run = run_scan(images, home=home_of(ctx), bundle=trust, authority=pinned,
                       max_age_days=max_age, inspector=inspector, location=location,
                       policy=policy, log=not no_log,
                       progress=lambda n: bar.advance(task, n))
    for warning in run.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    if as_json:
        emit_json([outcome.to_json() for outcome in run.outcomes])
    else:
        for outcome in run.outcomes:
            _panel(outcome)
    if not run.all_genuine:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


@scans_app.command("report")
def report(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Summarize the scan log per enterprise and list suspected clones.

    Example: jdzhi scans report --json
    """
    from rich.table import Table

    from jdzhi.trace.scanning.log import report as scan_report

    result = scan_report(home_of(ctx))
    if as_json:
        emit_json(result.to_json())
        return
    err_console.print(f"{result.total} scans: " + (", ".join(
        f"{n} {v}" for v, n in result.verdicts.items()) or "none yet"))
    if result.enterprises:
        table = Table(title="Scans per enterprise")
        for column in ("enterprise", "scans", "serials", "verdicts"):
            table.add_column(column)
        for entry in result.enterprises:
            table.add_row(escape(entry.enterprise), str(entry.scans), str(entry.serials),
                          ", ".join(f"{n} {v}" for v, n in sorted(entry.verdicts.items())))
        err_console.print(table)
    if result.clones:
        table = Table(title="Suspected clones", title_style="bold magenta")
        for column in ("enterprise", "serial", "flagged", "sightings", "locations", "last seen"):
            table.add_column(column)
        for clone in result.clones:
            table.add_row(escape(clone.enterprise), escape(clone.serial), str(clone.flagged),
                          str(clone.sightings), escape("; ".join(clone.locations)),
                          clone.last_seen)
        err_console.print(table)
    else:
        err_console.print("No suspected clones.")
