"""The demo's online steps: the service center runs `jdzhi server` and publishes its trust
bundle; a second workshop signs at its own kiln against that bundle, with no registry, and pushes
its records; a consumer's phone page and two inspectors far apart report their scans, and the
center flags the clone.

The center is a real `jdzhi server` over the demo's home on 127.0.0.1 (:mod:`._center`), started
by the first of these steps and stopped by the last; should a step fail, the demo stops it on
the way out (``DemoContext.cleanup``).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi._format.demo import step_verdicts_json
from jdzhi._format.online import trust_published_json
from jdzhi._format.records import pushed_json
from jdzhi._format.scanning import reported_scan_json
from jdzhi.demo._center import RunningCenter, port_is_open, start_center
from jdzhi.demo._inspection_steps import JINGDEZHEN, URUMQI, Sighting, photograph
from jdzhi.demo._workshop_steps import PIECES
from jdzhi.demo.context import DemoContext, StepReport, VerdictRow
from jdzhi.errors import InvalidState
from jdzhi.home import Home
from jdzhi.timeutil import CHINA_STANDARD_TIME, utc_now

if TYPE_CHECKING:
    from jdzhi.registry.entries import RegistryEntry

KILN_BATCH = "DEMO-2026-K"
KILN_FIRST_SERIAL = 270001
#: how many pieces the workshop signs at its kiln
KILN_PIECES = 3


def _center(ctx: DemoContext) -> RunningCenter:
    center = ctx.facts.get("center")
    if not isinstance(center, RunningCenter):
        raise InvalidState("the center's server is not running (the online step starts it)")
    return center


def _kiln_workshop(ctx: DemoContext) -> RegistryEntry:
    """An active blue-and-white workshop other than the story's first (revoked by now) and the
    suspended one: the one that signs at its own kiln."""
    from jdzhi.registry.entries import list_entries

    taken = {ctx.facts["workshop"]["license_no"], ctx.facts.get("suspend", {}).get("license_no")}
    with ctx.registry() as db:
        for entry in list_entries(db, status="active", category="qinghua"):
            if entry.license.license_no not in taken:
                return entry
    raise InvalidState("the sample registry has no second active blue-and-white workshop")


def center_online(ctx: DemoContext) -> StepReport:
    from jdzhi.online.uploads import publish_trust
    from jdzhi.trace.keys.certified import issue_licensee_key
    from jdzhi.trace.trust.bundle import export_bundle

    workshop = _kiln_workshop(ctx)
    kiln = ctx.subfolder("kiln")
    key_path = kiln / "workshop.key"
    with ctx.registry() as db:
        issued = issue_licensee_key(ctx.home, db, workshop.license.license_no, out=key_path,
                                    authority_passphrase=ctx.passphrase,
                                    key_passphrase=ctx.passphrase)
    # the current trust, with the key just certified, as `jdzhi trust export` makes it
    bundle = ctx.folder / "trust-bundle-online.cbor"
    exported = export_bundle(ctx.home, bundle, ctx.passphrase)
    center = start_center(ctx.home, ctx.folder / "server.log")
    ctx.cleanup.callback(center.stop)
    ctx.facts["center"] = center
    published = publish_trust(center.url, bundle)
    ctx.facts["kiln"] = {"enterprise": workshop.enterprise.name,
                         "license_no": workshop.license.license_no,
                         "key_id": issued.key.key_id, "key_path": key_path, "bundle": bundle}
    return StepReport(
        "online", "The service center goes online",
        (f"`jdzhi server` serves the registry at {center.url} (a real uvicorn server, in a "
         f"process of its own until the online story ends; its log: {center.log}). It holds "
         "no private key: it accepts only what certified keys signed.",
         f"A second blue-and-white workshop, {workshop.enterprise.name} (license "
         f"{workshop.license.license_no}), got its certified signing key {issued.key.key_id} "
         f"({key_path}).",
         f"The center exported its current trust ({bundle.name}: {exported.keys} keys, the new "
         f"one included) and published it (`jdzhi trust publish`): the server took it because "
         f"its authority key signed it; every phone page it serves now checks labels against "
         f"it (sha256 {published.sha256[:16]}…)."),
        {"server": center.url, "port": center.port, "log": str(center.log),
         "kiln_enterprise": workshop.enterprise.name,
         "kiln_license_no": workshop.license.license_no, "kiln_key_id": issued.key.key_id,
         "published": trust_published_json(published)},
    )


def _write_kiln_records(path: Path, day: date) -> None:
    lines = ["serial,batch,category,production_date,name,ware_class"]
    lines += [f"{KILN_FIRST_SERIAL + index},{KILN_BATCH},qinghua,{day.isoformat()},{name},{ware}"
              for index, (name, ware) in enumerate(PIECES[:KILN_PIECES])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def kiln_signs_and_pushes(ctx: DemoContext) -> StepReport:
    from jdzhi.online.uploads import push_records
    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing.batch import BundleCheck, sign_in_home

    center, kiln = _center(ctx), ctx.facts["kiln"]
    folder = ctx.subfolder("kiln")
    home = Home(folder / "home")  # the workshop's own home: no registry, never `jdzhi init`
    records = folder / "records.csv"
    _write_kiln_records(records, utc_now().astimezone(CHINA_STANDARD_TIME).date())
    out = folder / "SIGNED.jsonl"
    summary = sign_in_home(home, records, key=load_key(kiln["key_path"], ctx.passphrase),
                           out=out, bundle=BundleCheck(kiln["bundle"],
                                                       ctx.facts["authority_public_key"]))
    pushed = push_records(center.url, out)
    again = push_records(center.url, out)
    entries = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    kiln["entries"] = entries
    return StepReport(
        "kiln", "A workshop signs at its kiln and pushes to the center",
        (f"At its kiln, with no registry, {kiln['enterprise']} signed {summary.count} SAMPLE "
         f"pieces of batch {KILN_BATCH} ({records.name} → {out}) in its own home {home.path}: "
         f"its key and license were checked against the published bundle and the authority's "
         f"public key, and its serials are kept unique in {summary.stored_in}.db.",
         f"`jdzhi push` sent them to the center, which verified every line: {pushed.stored} "
         f"stored, {pushed.already_stored} already there.",
         f"Sent again, nothing is stored twice: {again.stored} stored, {again.already_stored} "
         "already there."),
        {"home": str(home.path), "signed": summary.count, "out": str(out),
         "trust": summary.trust, "stored_in": summary.stored_in,
         "serials": [entry["serial"] for entry in entries],
         "pushed": pushed_json(pushed), "pushed_again": pushed_json(again)},
    )


def consumer_page_scan(ctx: DemoContext) -> StepReport:
    from jdzhi.online.client import answer_fields, open_center

    entry = ctx.facts["kiln"]["entries"][0]
    subject = f"piece {entry['serial']} on a consumer's phone"
    # what the phone page posts once it has its own verdict (report.js), same origin
    request = {"label": entry["label"], "source": "page"}
    with open_center(_center(ctx).url) as center:
        _, answer = center.call("POST", "/api/v1/scans", what="the page's scan",
                                content=json.dumps(request).encode("utf-8"),
                                content_type="application/json")
        fields = answer_fields(answer, center, verdict=str, checks=int, first_checked_at=str)
    checks, first = fields["checks"], _cst(fields["first_checked_at"])
    ctx.verdicts.append(VerdictRow("page", subject, "phone page, center", fields["verdict"],
                                   "genuine"))
    return StepReport(
        "page", "A consumer's phone page reports its scan",
        (f"A consumer scans the label of piece {entry['serial']} with a phone: the verification "
         "page the center serves checks the signature in the browser, then reports the scan "
         "as the page does (POST /api/v1/scans, source page).",
         f"{subject}: {fields['verdict']}; the page shows 「第 {checks} 次查询 · 首次查询于 "
         f"{first}」 (checked {checks} time{'' if checks == 1 else 's'}, first on {first}). "
         "No address is stored, no location was sent."),
        {"serial": entry["serial"], "verdict": fields["verdict"], "checks": fields["checks"],
         "first_checked_at": fields["first_checked_at"],
         "clone_warning": fields.get("clone_warning"),
         "verdicts": step_verdicts_json(ctx, "page")},
    )


def _cst(text: str) -> str:
    from jdzhi.timeutil import parse_time

    return parse_time(text, what="first_checked_at").astimezone(
        CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M (UTC+8)")


def inspectors_flag_clone(ctx: DemoContext) -> StepReport:
    from jdzhi.online.scans import report_scans
    from jdzhi.server.inspectors import add_inspector
    from jdzhi.trace.scanning.log import scan

    center, kiln = _center(ctx), ctx.facts["kiln"]
    entry = kiln["entries"][0]
    png = _kiln_label(ctx, entry["serial"])
    with ctx.registry() as db:  # `jdzhi inspectors add`, at the center
        added = [add_inspector(db, f"demo inspector {place[0]} (SAMPLE)")
                 for place in (JINGDEZHEN, URUMQI)]
    lines = ["The center added two inspectors (`jdzhi inspectors add`); each got a token, shown "
             "once, of which the center keeps only a hash."]
    found = []
    for index, (place, new, expected) in enumerate(
            ((JINGDEZHEN, added[0], "genuine"), (URUMQI, added[1], "suspected-clone"))):
        sighting = Sighting(f"piece {entry['serial']} at {place[0]}"
                            + (", moments later" if index else ""),
                            photograph(ctx, png, f"{entry['serial']}-online-{index + 1}",
                                       6 + index, 5 + index), expected)
        # an inspector's phone: the published bundle, its own home, no registry
        run = scan([sighting.photo], home=Home(ctx.folder / "inspectors" / f"phone-{index + 1}"),
                   bundle=kiln["bundle"], authority=ctx.facts["authority_public_key"],
                   log=False)
        reported = report_scans(center.url, new.token, run.outcomes,
                                inspector=new.inspector.name, location=place[1], logged=False)
        if reported.error is not None:
            raise reported.error
        result = reported.scans[0]
        ctx.verdicts.append(VerdictRow("inspectors", sighting.subject,
                                       f"photo at {place[0]}, center", result.outcome.verdict,
                                       expected))
        found.append(reported_scan_json(result))
        reason = next((r for r in result.outcome.reasons if r.startswith("the center:")), "")
        lines.append(f"{sighting.subject} ({place[1]}): {result.outcome.verdict} (the center "
                     f"counts {result.center.checks if result.center else '?'} checks)"
                     + (f" — {reason}" if reason else ""))
    status = _serial_status(ctx, kiln["license_no"], entry["serial"])
    stopped, port = center.stop(), center.port
    still_open = port_is_open(port)
    lines.append(f"The center's record of serial {entry['serial']}: suspected clone "
                 f"{'yes' if status['suspected_clone'] else 'no'}, checked {status['checks']} "
                 "times; the registry acts on it. The inspectors' own phones could not have "
                 "known: only the center sees both scans.")
    lines.append(f"The center stopped (exit {stopped}); port {port} is "
                 f"{'STILL OPEN' if still_open else 'closed'}.")
    return StepReport(
        "inspectors", "Two inspectors, far apart, report to the center", tuple(lines),
        {"serial": entry["serial"], "inspectors": [new.inspector.name for new in added],
         "scans": found, "serial_status": status, "server_exit": stopped,
         "port_open_after": still_open,
         "verdicts": step_verdicts_json(ctx, "inspectors")},
    )


def _kiln_label(ctx: DemoContext, serial: str) -> Path:
    """The PNG of one label of the kiln batch, as the workshop printed it."""
    from jdzhi.trace.labels.sheets import ImageFormat, read_signed, render_labels

    labels = [label for label in read_signed(ctx.folder / "kiln" / "SIGNED.jsonl")
              if label.serial == serial]
    run = render_labels(labels, ctx.subfolder("labels") / "kiln", image_format=ImageFormat.PNG)
    return run.files[0]


def _serial_status(ctx: DemoContext, enterprise: str, serial: str) -> dict[str, Any]:
    """`GET /api/v1/serials/<enterprise>/<serial>`: what the center knows of a serial."""
    from jdzhi.online.client import answer_fields, open_center

    with open_center(_center(ctx).url) as center:
        _, answer = center.call("GET", f"/api/v1/serials/{enterprise}/{serial}",
                                what=f"serial {serial}")
        return answer_fields(answer, center, signed=bool, checks=int, suspected_clone=bool)
