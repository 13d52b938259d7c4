"""``jdzhi lab``: the ceramic testing center and its batch endorsements."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi._format.online import sent_endorsement_json
from jdzhi.commands import _common as common

if TYPE_CHECKING:
    from jdzhi.online.uploads import SentEndorsement
    from jdzhi.trace.endorsements.lab import EndorseResult

__all__ = ["app"]

app = typer.Typer(help="The ceramic testing center: register it with its certified key, and "
                       "countersign batches with test results.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The testing center's name.")],
    out: Annotated[Path, typer.Option("--out", metavar="KEYFILE", dir_okay=False,
                                      help="Where to write its new private key (0600).")],
    accreditation: Annotated[str, typer.Option(
        "--accreditation", help="Accreditation, e.g. a CNAS number.")] = "",
    passphrase_file: common.PassphraseFileOption = None,
    key_passphrase_file: common.KeyPassphraseFileOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Register the testing center and certify its endorsement key.

    Example: jdzhi lab add 国家日用陶瓷质量检验检测中心 --accreditation CNAS-L0000 --out lab.key
    """
    from jdzhi.trace.endorsements.lab import add_lab

    home = common.home_of(ctx)
    authority, new = common.new_key_passphrases(out, passphrase_file, key_passphrase_file)
    with common.registry_of(ctx) as db:
        added = add_lab(home, db, name, accreditation=accreditation, out=out,
                        authority_passphrase=authority, key_passphrase=new)
    common.result(as_json, {"lab_id": added.lab_id, "name": added.name, "key_id": added.key_id,
                            "key_file": added.key_path},
                  f"[green]Registered[/] {escape(added.name)} (lab {added.lab_id}) with key "
                  f"{added.key_id} written to {escape(added.key_path)} (0600)")


@app.command("endorse")
def endorse(
    ctx: typer.Context,
    enterprise: Annotated[str, typer.Argument(help="Enterprise id, USCC or license number.")],
    batch: Annotated[str, typer.Argument(help="The signed batch to countersign.")],
    results: Annotated[Path, typer.Option(
        "--results", metavar="CSV", dir_okay=False,
        help="Lead and cadmium release: columns ware_class (flat, small-hollow, large-hollow, "
             "cups, storage, cookware), pb, cd (mg/dm2 for flat ware, else mg/L).")],
    key: Annotated[Path, typer.Option("--key", metavar="KEYFILE", dir_okay=False,
                                      help="The testing center's key file.")],
    report_no: Annotated[str, typer.Option("--report-no", help="The test report number.")],
    tested: Annotated[str | None, typer.Option(
        "--tested", metavar="DATE", help="When tested (ISO 8601). Default: now.")] = None,
    limits: Annotated[Path | None, typer.Option(
        "--limits", dir_okay=False,
        help="JSON limits overriding the GB 4806.4-2016 defaults.")] = None,
    water_absorption: Annotated[str | None, typer.Option(
        "--water-absorption", metavar="PERCENT", help="Water absorption, % (limit 0.5).")] = None,
    thermal_shock: Annotated[bool | None, typer.Option(
        "--thermal-shock-pass/--thermal-shock-fail", help="Thermal shock result.")] = None,
    whiteness: Annotated[str | None, typer.Option(
        "--whiteness", metavar="DEGREES", help="Whiteness (recorded, no limit).")] = None,
    passphrase_file: common.PassphraseFileOption = None,
    server: common.ServerOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Countersign a signed batch with test results; the outcome (pass or fail) follows from
    the results and the limits, never from the operator.

    With --server URL it is recorded here first, then sent to the service center online; if
    the center cannot be reached (exit 11) it stays recorded here, and `jdzhi lab push
    REPORT_NO --server URL` sends it later.

    Example: jdzhi lab endorse JDZ-GI-2026-0001 B2026-07 --results pbcd.csv --key lab.key
    --report-no JDZ-T-2026-0142
    """
    from jdzhi.errors import JdzhiError
    from jdzhi.online.client import check_server_url
    from jdzhi.online.uploads import send_endorsements
    from jdzhi.timeutil import parse_time, utc_now
    from jdzhi.trace.endorsements.lab import OptionalResults, endorse_batch, endorsement_json

    if server is not None:
        server = check_server_url(server)  # before anything is signed or recorded
    moment = parse_time(tested, what="--tested") if tested else utc_now()
    passphrase = common.read_passphrase(passphrase_file, confirm=False, what=f"key {key.name}")
    with common.registry_of(ctx) as db:
        done = endorse_batch(db, key_file=key, passphrase=passphrase, enterprise_ref=enterprise,
                             batch=batch, results_file=results, report_no=report_no,
                             tested_at=moment, limits_file=limits,
                             optional_results=OptionalResults(water_absorption, thermal_shock,
                                                              whiteness))
    common.note_encoding(results, done.results_encoding)
    sent: tuple[SentEndorsement, ...] = ()
    failure: JdzhiError | None = None
    if server is not None:
        try:
            sent = send_endorsements(server, common.home_of(ctx), done.endorsement.report_no,
                                     lab_id=done.endorsement.lab_id)
        except JdzhiError as error:
            failure = error
    earlier = [{"report_no": e.report_no, "lab": e.lab, "outcome": e.outcome,
                "signed_at": e.signed_at} for e in done.earlier]
    if as_json:
        common.emit_json({**endorsement_json(done.endorsement), "lab": done.lab,
                          "enterprise": done.enterprise, "records": done.records,
                          "earlier": earlier, "overturns_pass": done.overturns_pass,
                          **({"sent": {"server": server, "created": sent[0].created}
                              if sent else None} if server is not None else {})})
    else:
        _show_endorsement(done, batch, report_no)
        if sent:
            _show_sent(sent, server or "")
    if failure is not None:
        raise failure


def _show_endorsement(done: EndorseResult, batch: str, report_no: str) -> None:
    style = "green" if done.endorsement.outcome == "pass" else "red"
    common.out.print(f"[{style}]{done.endorsement.outcome.upper()}[/] batch "
                     f"{escape(batch)} of {escape(done.enterprise)} "
                     f"({common.plural(done.records, 'record')}), "
                     f"report {escape(report_no)} by {escape(done.lab)}")
    for result in done.endorsement.results:
        mark = "ok" if result.passed else "OVER LIMIT"
        common.out.print(f"  {result.ware_class}: Pb {result.pb / 1000:g} / "
                         f"{result.pb_limit / 1000:g}, Cd {result.cd / 1000:g} / "
                         f"{result.cd_limit / 1000:g} {result.unit} {mark}")
    if done.overturns_pass:
        common.out.print(f"[bold red]This FAIL overturns the earlier PASS[/] of batch "
                         f"{escape(batch)} (report {escape(done.earlier[-1].report_no)}); both are "
                         "kept, and verifiers now show the FAIL.")
    elif done.earlier:
        common.out.print(f"{common.plural(len(done.earlier), 'earlier endorsement')} of the batch "
                         "kept; this one now decides.")


def _show_sent(sent: tuple[SentEndorsement, ...], server: str) -> None:
    for one in sent:
        common.out.print(f"[green]Sent[/] report {escape(one.report_no)} to {escape(server)}: "
                         + ("stored there" if one.created else "the center had it already"),
                         highlight=False)


@app.command("push")
def push(
    ctx: typer.Context,
    report_no: Annotated[str, typer.Argument(
        metavar="REPORT_NO", help="The report number of an endorsement recorded in this home.")],
    server: common.ServerOption,
    as_json: common.JsonOption = False,
) -> None:
    """Send an endorsement recorded in this home to the service center online (`jdzhi server`).

    For an endorsement made without --server, or when the center could not be reached: the
    center checks it against the lab's certified key and stores it; sending it again is
    harmless. Exit 11 when the center cannot be reached.

    Example: jdzhi lab push JDZ-T-2026-0142 --server https://trace.example.cn
    """
    from jdzhi.online.client import check_server_url
    from jdzhi.online.uploads import send_endorsements

    assert server is not None  # a required option
    server = check_server_url(server)
    sent = send_endorsements(server, common.home_of(ctx), report_no)
    if as_json:
        common.emit_json({"server": server, "sent": [sent_endorsement_json(one) for one in sent]})
    else:
        _show_sent(sent, server)


@app.command("witness")
def witness(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", dir_okay=False,
                                           help="The trust bundle whose checkpoint to cosign.")],
    key: Annotated[Path, typer.Option("--key", metavar="KEYFILE", dir_okay=False,
                                      help="The testing center's certified key file.")],
    authority: common.AuthorityOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="FILE", dir_okay=False,
        help="Write the cosignature line here (never overwritten). Default: stdout.")] = None,
    passphrase_file: common.PassphraseFileOption = None,
) -> None:
    """Cosign the bundle's log checkpoint as a witness (C2SP tlog-cosignature).

    The checkpoint must extend every one this home accepted before (exit 8 if not). Give the
    line to the service center: `jdzhi trust export --cosignature FILE` carries it, and
    verifiers can then require it with `--witness`.

    Example: jdzhi lab witness trust-2026-11.cbor --key lab.key --out lab.cosig
    """
    from jdzhi.errors import Conflict
    from jdzhi.trace.keys.keyfile import read_public_key
    from jdzhi.trace.tlog.lab_witness import witness_bundle

    if out is not None and out.exists():
        raise Conflict(f"{out} already exists; choose another name")
    pinned = read_public_key(authority) if authority else None
    passphrase = common.read_passphrase(passphrase_file, confirm=False, what=f"key {key.name}")
    line = witness_bundle(common.home_of(ctx), bundle, key_file=key, passphrase=passphrase,
                          authority=pinned, out=out)
    if out is None:
        common.out.print(line, end="", highlight=False, markup=False)
    else:
        common.err.print(f"[green]Cosigned[/] the checkpoint of {escape(str(bundle))}: "
                         f"{escape(str(out))}")
