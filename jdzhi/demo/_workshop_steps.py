"""The demo's workshop steps: a certified key, a signed batch, its labels, and the testing
center's endorsement."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from jdzhi.demo.context import DemoContext, StepReport
from jdzhi.errors import InvalidState
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time, utc_now

BATCH = "DEMO-2026-A"
#: the pieces of the demo batch: (name, ware class); SAMPLE products of a fictitious workshop
PIECES = (
    ("青花缠枝莲纹梅瓶 (SAMPLE)", "large-hollow"),
    ("青花山水纹盘 (SAMPLE)", "flat"),
    ("青花折枝花果纹碗 (SAMPLE)", "small-hollow"),
    ("青花婴戏图杯 (SAMPLE)", "cups"),
    ("青花龙纹大罐 (SAMPLE)", "storage"),
    ("青花鱼藻纹盘 (SAMPLE)", "flat"),
)
FIRST_SERIAL = 260001
#: the testing center's (SAMPLE) release results: mg/dm2 for flat ware, else mg/L
LAB_RESULTS = (("flat", "0.12", "0.010"), ("small-hollow", "0.08", "0.020"),
               ("large-hollow", "0.05", "0.010"), ("cups", "0.09", "0.015"),
               ("storage", "0.04", "0.010"))


def workshop_key(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.entries import list_entries
    from jdzhi.trace.keys.certified import issue_licensee_key

    suspended = ctx.facts.get("suspend", {}).get("license_no")
    with ctx.registry() as db:
        candidates = [entry for entry in list_entries(db, status="active", category="qinghua")
                      if entry.license.license_no != suspended]
        if not candidates:
            raise InvalidState("the sample registry has no active blue-and-white workshop")
        workshop = candidates[0]
        out = ctx.subfolder("keys") / "workshop.key"
        issued = issue_licensee_key(ctx.home, db, workshop.license.license_no, out=out,
                                    authority_passphrase=ctx.passphrase,
                                    key_passphrase=ctx.passphrase)
    key = issued.key
    ctx.facts["workshop"] = {"enterprise": workshop.enterprise.name,
                             "short_name": workshop.enterprise.short_name,
                             "enterprise_id": workshop.enterprise.id,
                             "license_no": workshop.license.license_no,
                             "key_id": key.key_id, "key_path": out}
    return StepReport(
        "workshop", "A workshop gets a certified key",
        (f"{workshop.enterprise.name} (license {workshop.license.license_no}, "
         f"{workshop.enterprise.district_name}) is licensed for 青花 blue-and-white.",
         f"The authority certified its new signing key {key.key_id}, valid to "
         f"{format_time(key.not_after)}; the private key is in {out} (0600, encrypted)."),
        {"enterprise": workshop.enterprise.name, "enterprise_id": workshop.enterprise.id,
         "license_no": workshop.license.license_no, "key_id": key.key_id,
         "key_path": str(out), "not_after": format_time(key.not_after)},
    )


def write_records_csv(path: Path, day: date) -> None:
    lines = ["serial,batch,category,production_date,name,ware_class"]
    lines += [f"{FIRST_SERIAL + index},{BATCH},qinghua,{day.isoformat()},{name},{ware}"
              for index, (name, ware) in enumerate(PIECES)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def sign_batch(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing.batch import sign_csv

    workshop = ctx.facts["workshop"]
    records = ctx.folder / "batch-records.csv"
    write_records_csv(records, utc_now().astimezone(CHINA_STANDARD_TIME).date())
    out = ctx.folder / "SIGNED.jsonl"
    key = load_key(workshop["key_path"], ctx.passphrase)
    with ctx.registry() as db:
        summary = sign_csv(db, records, key=key, out=out)
    signed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ctx.facts["signed"] = {"signed_at": summary.signed_at, "path": out, "entries": signed,
                           "base_url": summary.base_url}
    return StepReport(
        "sign", "It signs a batch",
        (f"{records.name}: {summary.count} SAMPLE pieces of batch {BATCH}; every row was "
         "checked (serials, category, license valid on the production date) before signing.",
         f"Signed with key {summary.key_id} at {format_time(summary.signed_at)}, each piece "
         "in two forms: a 77-byte QR label and a full COSE record, in "
         f"{out} (one audit entry for the batch)."),
        {"records_csv": str(records), "signed": summary.count, "out": str(out),
         "key_id": summary.key_id, "signed_at": format_time(summary.signed_at),
         "batch": BATCH, "serials": [entry["serial"] for entry in signed],
         "records_sha256": summary.records_sha256},
    )


def print_labels(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.labels.sheets import ImageFormat, read_signed, render_labels

    labels = read_signed(ctx.facts["signed"]["path"])
    folder = ctx.subfolder("labels")
    sheet = render_labels(labels, folder / f"sheet-{BATCH}.pdf")
    pngs = render_labels(labels, folder / "png", image_format=ImageFormat.PNG)
    ctx.facts["labels"] = {"png": {label.serial: path for label, path
                                   in zip(labels, pngs.files, strict=True)}}
    return StepReport(
        "labels", "It prints the labels",
        (f"{sheet.out}: a print-ready sheet of {sheet.labels} labels ({sheet.pages} page, "
         f"QR version {sheet.max_version} at level {sheet.level}, 景德镇制 mark, serial, "
         "category).",
         f"{pngs.out}/: the same labels as {len(pngs.files)} PNGs, one per piece."),
        {"pdf": str(sheet.out), "pages": sheet.pages, "png": [str(f) for f in pngs.files],
         "max_qr_version": sheet.max_version, "level": sheet.level},
    )


def lab_endorsement(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.endorsements.lab import OptionalResults, add_lab, endorse_batch, show_milli

    workshop = ctx.facts["workshop"]
    results = ctx.folder / "lab-results.csv"
    results.write_text("ware_class,pb,cd\n" + "".join(
        f"{ware},{pb},{cd}\n" for ware, pb, cd in LAB_RESULTS), encoding="utf-8")
    key_path = ctx.subfolder("keys") / "lab.key"
    with ctx.registry() as db:
        lab = add_lab(ctx.home, db, "景德镇陶瓷检测中心 (SAMPLE)",
                      accreditation="CNAS L00000 (sample)", out=key_path,
                      authority_passphrase=ctx.passphrase, key_passphrase=ctx.passphrase)
        endorsed = endorse_batch(
            db, key_file=key_path, passphrase=ctx.passphrase,
            enterprise_ref=workshop["license_no"], batch=BATCH, results_file=results,
            report_no="JDZ-LAB-DEMO-0001", tested_at=utc_now(),
            optional_results=OptionalResults(water_absorption="0.3", thermal_shock=True),
        )
    endorsement = endorsed.endorsement
    shown = ", ".join(f"{r.ware_class} Pb {show_milli(r.pb)}/{show_milli(r.pb_limit)} "
                      f"Cd {show_milli(r.cd)}/{show_milli(r.cd_limit)} {r.unit}"
                      for r in endorsement.results)
    return StepReport(
        "lab", "The testing center endorses the batch",
        (f"{lab.name} got its own certified key {lab.key_id} ({key_path}).",
         f"Its release results against {endorsement.standard} (measured/limit): {shown}.",
         f"Outcome {endorsement.outcome.upper()} for the {endorsed.records} pieces of batch "
         f"{BATCH}, countersigned as report {endorsement.report_no}: every label of the batch "
         "now shows the endorsement."),
        {"lab": lab.name, "lab_key_id": lab.key_id, "results_csv": str(results),
         "outcome": endorsement.outcome, "report_no": endorsement.report_no,
         "standard": endorsement.standard, "records": endorsed.records},
    )
