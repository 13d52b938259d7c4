"""``jdzhi registry``: the registry of enterprises licensed to use the mark.

Enterprises and licenses are named by the enterprise id, the USCC or the license number.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi._format.registry import (
    enterprise_json,
    entry_detail_json,
    entry_json,
    license_event_json,
)
from jdzhi.commands import _common as common
from jdzhi.commands import categories as category_commands
from jdzhi.errors import ExitCode, JdzhiError

if TYPE_CHECKING:
    from jdzhi.registry.db import Database
    from jdzhi.registry.entries import EntryDetail, RegistryEntry
    from jdzhi.registry.licenses import StatusChange

app = typer.Typer(
    help=(
        "The registry of enterprises licensed to use the mark: add, import and export them, "
        "list and show them, suspend, revoke, reinstate or renew their licenses, and audit "
        "every change.\n\nAn enterprise is named by its id, its USCC or its license number."
    ),
    no_args_is_help=True,
)
app.add_typer(category_commands.app, name="categories")

__all__ = ["app"]

_STATUS_STYLE = {"active": "green", "suspended": "yellow", "revoked": "red", "expired": "magenta",
                 "pending": "cyan"}

RefArgument = Annotated[str, typer.Argument(
    metavar="ID", help="Enterprise id, USCC or license number."
)]
ReasonOption = Annotated[str, typer.Option(
    "--reason", help="Why (kept in the status history and the audit log).",
)]
EffectiveOption = Annotated[str | None, typer.Option(
    "--effective", metavar="TIME",
    help="When the change takes effect (ISO 8601, may lie in the past; no offset = UTC+08:00). "
         "Default: now.",
)]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")]


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


@app.command()
def add(
    ctx: typer.Context,
    uscc: Annotated[str, typer.Option(help="Unified social credit code (18 characters).")],
    name: Annotated[str, typer.Option(help="Registered Chinese name.")],
    district: Annotated[str, typer.Option(
        help="360202 昌江区, 360203 珠山区, 360222 浮梁县 or 360281 乐平市 (code or name).")],
    license_no: Annotated[str, typer.Option("--license-no", help="The license number.")],
    categories: Annotated[str, typer.Option(
        help="Licensed categories: codes or names separated by ';' or ','.")],
    valid_from: Annotated[str, typer.Option("--valid-from", help="First day (YYYY-MM-DD).")],
    valid_to: Annotated[str, typer.Option("--valid-to", help="Last day (YYYY-MM-DD).")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name.")] = "",
    short_name: Annotated[str, typer.Option(
        "--short-name", help="Name for labels. Default: the name without city and 有限公司.")] = "",
    address: Annotated[str, typer.Option(help="Address.")] = "",
    contact: Annotated[str, typer.Option(help="Contact (phone, person).")] = "",
    as_json: common.JsonOption = False,
) -> None:
    """Register an enterprise with its license (active from --valid-from).

    Example:

        jdzhi registry add --uscc 91360203MA35G7K27T --name 景德镇市青云陶瓷有限公司
        --district 珠山区 --license-no JDZ-GI-2026-0001 --categories 青花,粉彩
        --valid-from 2026-01-01 --valid-to 2030-12-31
    """
    from jdzhi.registry.entries import add_entry

    fields = {"uscc": uscc, "name": name, "name_en": name_en, "short_name": short_name,
              "district_code": district, "address": address, "contact": contact,
              "license_no": license_no, "categories": categories, "valid_from": valid_from,
              "valid_to": valid_to}
    with common.registry_of(ctx) as db:
        entry, warnings = add_entry(db, fields)
    common.warn(warnings)
    common.result(as_json, entry_json(entry),
                  f"[green]Registered[/] {escape(entry.enterprise.name)} (id {entry.enterprise.id})"
                  f" with license {escape(entry.license.license_no)}, {_status(entry.status)}")


@app.command()
def update(
    ctx: typer.Context,
    ref: RefArgument,
    name: Annotated[str | None, typer.Option(help="New registered Chinese name.")] = None,
    name_en: Annotated[str | None, typer.Option("--name-en", help="New English name.")] = None,
    short_name: Annotated[str | None, typer.Option("--short-name", help="New label name.")] = None,
    district: Annotated[str | None, typer.Option(help="New district (code or name).")] = None,
    address: Annotated[str | None, typer.Option(help="New address.")] = None,
    contact: Annotated[str | None, typer.Option(help="New contact.")] = None,
    as_json: common.JsonOption = False,
) -> None:
    """Change an enterprise's details (the USCC, its identity, stays).

    Example: jdzhi registry update 12 --address 江西省景德镇市珠山中路88号 --contact 0798-8123456
    """
    from jdzhi.registry.entries import update_enterprise

    changes = {"name": name, "name_en": name_en, "short_name": short_name,
               "district_code": district, "address": address, "contact": contact}
    with common.registry_of(ctx) as db:
        enterprise, changed = update_enterprise(db, ref, changes)
    if as_json:
        common.emit_json({**enterprise_json(enterprise), "changed": list(changed)})
    else:
        common.out.print(f"[green]Updated[/] {escape(enterprise.name)} (id {enterprise.id}): "
                         f"{', '.join(changed)}")


@app.command()
def issue(
    ctx: typer.Context,
    ref: RefArgument,
    license_no: Annotated[str, typer.Option("--license-no", help="The new license number.")],
    categories: Annotated[str, typer.Option(
        help="Licensed categories: codes or names separated by ';' or ','.")],
    valid_from: Annotated[str, typer.Option("--valid-from", help="First day (YYYY-MM-DD).")],
    valid_to: Annotated[str, typer.Option("--valid-to", help="Last day (YYYY-MM-DD).")],
    as_json: common.JsonOption = False,
) -> None:
    """Issue a new license to a registered enterprise (after a revocation or a lapse).

    Refused while another license of the enterprise overlaps the new dates and is not revoked:
    renew that one instead.

    Example: jdzhi registry issue 91360203MA35G7K27T --license-no JDZ-GI-2027-0001
    --categories 青花 --valid-from 2027-01-01 --valid-to 2031-12-31
    """
    from jdzhi.registry.entries import issue_license

    fields = {"license_no": license_no, "categories": categories, "valid_from": valid_from,
              "valid_to": valid_to}
    with common.registry_of(ctx) as db:
        entry = issue_license(db, ref, fields)
    common.result(as_json, entry_json(entry),
                  f"[green]Issued[/] license {escape(entry.license.license_no)} to "
                  f"{escape(entry.enterprise.name)} ({entry.license.valid_from} to "
                  f"{entry.license.valid_to}), {_status(entry.status)}")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or JSON file (see `registry export`).")],
    check: Annotated[bool, typer.Option(
        "--check", help="Run every check, report, and write nothing.")] = False,
    as_json: common.JsonOption = False,
) -> None:
    """Import enterprises and licenses from a CSV or JSON file: all rows or none.

    Columns: uscc, name, name_en, short_name, district_code, address, contact, license_no,
    categories (';'-separated), valid_from, valid_to, status (active, suspended, revoked),
    status_reason, status_effective_at. The first bad row stops the import with its row number
    and reason, and nothing is written.

    Example: jdzhi registry sample --out sample.csv && jdzhi registry import sample.csv
    """

    from jdzhi.registry.exchange import import_file

    with common.registry_of(ctx) as db, common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("importing", total=None)
        result = import_file(db, file, check_only=check,
                             progress=lambda done, total: bar.update(task, completed=done,
                                                                     total=total))
    common.note_encoding(result.path, result.encoding)
    common.warn(result.warnings)
    if as_json:
        common.emit_json({"path": result.path, "imported": result.count if result.stored else 0,
                          "checked": result.count, "warnings": list(result.warnings)})
    elif result.stored:
        common.out.print(f"[green]Imported[/] {common.plural(result.count, 'enterprise')} from "
                         f"{escape(result.path)}")
    else:
        common.out.print(f"[green]Checked[/] {escape(result.path)}: all "
                         f"{common.plural(result.count, 'row')} would import; nothing was written")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(
        help="Only this status now: active, suspended, revoked, expired or pending.")] = None,
    district: Annotated[str | None, typer.Option(help="Only this district (code or name).")] = None,
    category: Annotated[str | None, typer.Option(
        help="Only licenses covering this category (code or name).")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", metavar="TIME", help="Statuses at this time instead of now (ISO 8601).")] = None,
    as_json: common.JsonOption = False,
) -> None:
    """List enterprises with their current license and its status now.

    Example: jdzhi registry list --status suspended --district 珠山区 --json
    """
    from jdzhi.registry.entries import list_entries
    from jdzhi.timeutil import parse_time

    moment = parse_time(at, what="--at") if at is not None else None
    with common.registry_of(ctx) as db:
        entries = list_entries(db, status=status, district=district, category=category,
                               moment=moment)
        names = _category_names(db)
    if not common.listing(as_json, entries, entry_json):
        _print_table(entries, names)


def _category_names(db: Database) -> dict[str, str]:
    from jdzhi.registry.categories import list_categories

    return {category.code: category.name_zh for category in list_categories(db)}


def _print_table(entries: tuple[RegistryEntry, ...], names: dict[str, str]) -> None:
    if not entries:
        common.out.print("No enterprises match.")
        return
    table = common.result_table(common.plural(len(entries), "licensed enterprise"),
                                ("id", "number"), ("license", "whole"), ("name", "fold"),
                                ("district", "whole"), ("categories", "fold"),
                                ("valid to", "whole"), ("status", "whole"))
    for entry in entries:
        ent, lic = entry.enterprise, entry.license
        table.add_row(
            str(ent.id), escape(lic.license_no), escape(ent.short_name), ent.district_name,
            "、".join(names.get(code, code) for code in lic.categories),
            lic.valid_to.isoformat(), _status(entry.status),
        )
    common.out.print(table)


@app.command()
def show(ctx: typer.Context, ref: RefArgument, as_json: common.JsonOption = False) -> None:
    """Show one enterprise, its license and the license's whole status history.

    Example: jdzhi registry show JDZ-GI-2024-0012
    """
    from jdzhi.registry.entries import show_entry

    with common.registry_of(ctx) as db:
        detail = show_entry(db, ref)
        names = _category_names(db)
    if as_json:
        common.emit_json(entry_detail_json(detail))
    else:
        _print_detail(detail, names)


def _print_detail(detail: EntryDetail, names: dict[str, str]) -> None:
    entry = detail.entry
    ent, lic = entry.enterprise, entry.license
    lines = [
        f"[bold]{escape(ent.name)}[/]" + (f"  {escape(ent.name_en)}" if ent.name_en else ""),
        f"id {ent.id} · USCC {ent.uscc} · {ent.district_name} ({ent.district_code})",
    ]
    if ent.address or ent.contact:
        lines.append(escape(" · ".join(part for part in (ent.address, ent.contact) if part)))
    lines.append(
        f"license [bold]{escape(lic.license_no)}[/] · "
        f"{'、'.join(names.get(code, code) for code in lic.categories)} · "
        f"{lic.valid_from} to {lic.valid_to} · {_status(entry.status)}"
    )
    if detail.other_licenses:
        lines.append(f"earlier licenses: {escape(', '.join(detail.other_licenses))}")
    common.out.print("\n".join(lines), highlight=False)
    table = common.result_table("status history", ("effective (UTC)", "whole"),
                                ("action", "fold"), ("status", "whole"), ("reason", "fold"),
                                ("recorded by", "fold"))
    for event in detail.history:
        table.add_row(
            event.effective_at.strftime("%Y-%m-%d %H:%M"),
            event.action + (f" → {event.valid_to}" if event.valid_to else ""),
            _status(event.status), escape(event.reason), escape(event.actor),
        )
    common.out.print(table)


def _change(ctx: typer.Context, ref: str, action: str, reason: str, effective: str | None,
            as_json: bool, new_valid_to: str | None = None) -> None:
    from jdzhi.registry.licenses import change_status
    from jdzhi.timeutil import parse_date, parse_time

    effective_at = parse_time(effective, what="--effective") if effective is not None else None
    valid_to = parse_date(new_valid_to, what="--valid-to") if new_valid_to is not None else None
    with common.registry_of(ctx) as db:
        change = change_status(db, ref, action, reason=reason, effective_at=effective_at,
                               new_valid_to=valid_to)
    _report_change(change, as_json)


def _report_change(change: StatusChange, as_json: bool) -> None:
    from jdzhi.timeutil import format_time

    lic, event = change.license, change.event
    if as_json:
        common.emit_json({"license_id": lic.id, "license_no": lic.license_no,
                          "previous_status": change.previous_status, **license_event_json(event)})
        return
    verb = {"suspend": "Suspended", "revoke": "Revoked", "reinstate": "Reinstated",
            "renew": "Renewed"}[event.action]
    until = f" until {lic.valid_to}" if event.action == "renew" else ""
    common.out.print(
        f"[bold]{verb}[/] license {escape(lic.license_no)}{until}: {_status(event.status)} "
        f"from {format_time(event.effective_at)} ({escape(event.reason)})",
        highlight=False,
    )


@app.command()
def suspend(ctx: typer.Context, ref: RefArgument, reason: ReasonOption,
            effective: EffectiveOption = None, as_json: common.JsonOption = False) -> None:
    """Suspend an active license (it can be reinstated).

    Example: jdzhi registry suspend JDZ-GI-2024-0012 --reason "spot check failed"
    --effective 2026-03-01T09:00
    """
    _change(ctx, ref, "suspend", reason, effective, as_json)


@app.command()
def revoke(ctx: typer.Context, ref: RefArgument, reason: ReasonOption,
           effective: EffectiveOption = None, as_json: common.JsonOption = False) -> None:
    """Revoke an active or suspended license, for good."""
    _change(ctx, ref, "revoke", reason, effective, as_json)


@app.command()
def reinstate(ctx: typer.Context, ref: RefArgument, reason: ReasonOption,
              effective: EffectiveOption = None, as_json: common.JsonOption = False) -> None:
    """Reinstate a suspended license."""
    _change(ctx, ref, "reinstate", reason, effective, as_json)


@app.command()
def renew(
    ctx: typer.Context,
    ref: RefArgument,
    valid_to: Annotated[str, typer.Option(
        "--valid-to", metavar="DATE",
        help="The new last day (YYYY-MM-DD), after the current one.")],
    reason: ReasonOption,
    effective: EffectiveOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Extend a license to a new end date (from --effective on; its status is kept).

    Example: jdzhi registry renew JDZ-GI-2021-0003 --valid-to 2031-12-31 --reason "renewed"
    """
    _change(ctx, ref, "renew", reason, effective, as_json, new_valid_to=valid_to)


@app.command()
def export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write: a .csv or .json file.")],
    force: ForceOption = False,
    as_json: common.JsonOption = False,
) -> None:
    """Write every enterprise with its current license in the format `registry import` reads.

    The file holds each license's latest status; the full history stays in the registry.
    """
    from jdzhi.registry.exchange import export_file

    with common.registry_of(ctx) as db:
        count = export_file(db, file, overwrite=force)
    if as_json:
        common.emit_json({"path": str(file), "exported": count})
    else:
        common.out.print(f"[green]Exported[/] {common.plural(count, 'enterprise')} to "
                         f"{escape(str(file))}")


@app.command()
def audit(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """Verify the audit log's hash chain and that every row matches its last audit entry.

    Exits 1 and lists the problems when a change was made behind jdzhi's back.
    """
    from jdzhi.registry.entries import audit_registry

    with common.registry_of(ctx) as db:
        report = audit_registry(db)
    if as_json:
        common.emit_json({"ok": report.ok, "entries": report.entries, "head_hash": report.head_hash,
                          "problems": list(report.problems)})
    elif report.ok:
        common.out.print(
            f"[green]Audit log intact[/]: {common.plural(report.entries, 'entry', 'entries')}, "
            "every row accounted for "
            f"(head {report.head_hash[:16]}…)"
        )
    else:
        for problem in report.problems:
            common.out.print(f"[red]✗[/] {escape(problem)}", highlight=False)
    if not report.ok:
        found = common.plural(len(report.problems), "problem")
        raise JdzhiError(f"the registry audit found {found}", ExitCode.CHECK_FAILED)


@app.command()
def sample(
    count: Annotated[int, typer.Option(help="How many enterprises.")] = 220,
    out: Annotated[Path, typer.Option(
        "--out", help="Where to write: a .csv or .json file.")] = Path("sample-registry.csv"),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same file.")] = 1,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="Date the statuses refer to. Default: today.")] = None,
    force: ForceOption = False,
    as_json: common.JsonOption = False,
) -> None:
    """Write a realistic, clearly labelled SAMPLE registry that `registry import` reads.

    Fictitious enterprises with valid USCCs, Jingdezhen's real district codes and a realistic
    mix of categories and statuses. Same --seed and --as-of, same file.

    Example: jdzhi registry sample --count 220 --out sample.csv --seed 7
    """
    from jdzhi.registry.sample import write_sample
    from jdzhi.timeutil import CHINA_STANDARD_TIME, parse_date, utc_now

    day = (parse_date(as_of, what="--as-of") if as_of is not None
           else utc_now().astimezone(CHINA_STANDARD_TIME).date())
    result = write_sample(out, count=count, seed=seed, as_of=day, overwrite=force)
    if as_json:
        common.emit_json({"path": result.path, "count": result.count, "seed": result.seed,
                          "as_of": result.as_of.isoformat(), "statuses": result.statuses})
    else:
        mix = ", ".join(f"{n} {status}" for status, n in result.statuses.items())
        common.out.print(
            f"Wrote [bold]SAMPLE[/] registry of "
            f"{common.plural(result.count, 'fictitious enterprise')} to "
            f"{escape(result.path)} ({mix})"
        )
