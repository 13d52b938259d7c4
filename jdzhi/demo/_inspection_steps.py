"""The demo's inspection steps: phone photos of labels scanned in the field (genuine, forged,
signed after a revocation, cloned across China) and the same verdicts offline from the trust
bundle alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi._format.demo import step_verdicts_json
from jdzhi._format.scanning import scan_report_json
from jdzhi.demo._workshop_steps import BATCH, FIRST_SERIAL, PIECES
from jdzhi.demo.context import DemoContext, StepReport, VerdictRow
from jdzhi.home import Home
from jdzhi.timeutil import format_time, utc_now

if TYPE_CHECKING:
    from jdzhi.trace.scanning.decode import ScanOutcome


#: where the inspectors scan: (name, "latitude,longitude")
JINGDEZHEN = ("景德镇", "29.27,117.18")
URUMQI = ("乌鲁木齐", "43.83,87.62")


@dataclass(frozen=True)
class Sighting:
    """A phone photo an inspector scans, and the verdict the story expects of it."""

    subject: str
    photo: Path
    expected: str


def photograph(ctx: DemoContext, label_png: Path, name: str, seed: int,
                piece: int) -> Path:
    """A simulated phone photo of a label stuck on a SAMPLE porcelain piece."""
    from PIL import Image

    from jdzhi.demo._drawings import WORKS, backdrop
    from jdzhi.demo.photosim import PhotoConditions, simulate_photo

    conditions = PhotoConditions()
    with Image.open(label_png) as label:
        photo = simulate_photo(label.convert("RGB"), seed=ctx.seed * 1000 + seed,
                               conditions=conditions,
                               background=backdrop(WORKS[piece % len(WORKS)], *conditions.frame))
    path = ctx.subfolder("photos") / f"{name}.jpg"
    photo.save(path, format="JPEG", quality=90)
    return path


def _render_label(ctx: DemoContext, folder: str, serial: str, text: str) -> Path:
    """The PNG of a label that is not in SIGNED.jsonl (a forged or an unregistered one)."""
    from jdzhi.trace.labels.layout import LabelData
    from jdzhi.trace.labels.sheets import ImageFormat, render_labels

    workshop = ctx.facts["workshop"]
    label = LabelData(serial=serial, text=text, enterprise=workshop["short_name"],
                      category="青花")
    run = render_labels([label], ctx.subfolder("labels") / folder, image_format=ImageFormat.PNG)
    return run.files[0]


def _scan(ctx: DemoContext, step: str, sighting: Sighting, *, place: tuple[str, str],
          moment: datetime, bundle: Path | None = None) -> ScanOutcome:
    """Scan a photo as an inspector at ``place``: with the registry (logged, so clones show) or
    with the trust bundle alone (``bundle``; nothing logged, no registry opened)."""
    from jdzhi.trace.scanning.log import scan

    if bundle is None:
        run = scan([sighting.photo], home=ctx.home, inspector="demo inspector (SAMPLE)",
                   location=place[1], now=moment)
        method = f"photo at {place[0]}, registry"
    else:
        # an inspector's phone with no registry at all: its home only remembers the bundles it
        # accepted (a rollback check); nothing is logged and the authority key is pinned
        run = scan([sighting.photo], home=Home(ctx.folder / "inspector-phone"), bundle=bundle,
                   authority=ctx.facts["authority_public_key"], log=False, now=moment)
        method = "photo, trust bundle only"
    outcome = run.outcomes[0]
    ctx.verdicts.append(VerdictRow(step, sighting.subject, method, outcome.verdict,
                                   sighting.expected))
    ctx.facts.setdefault("sightings", {}).setdefault(step, []).append(sighting)
    return outcome


def _tampered(label: str, base: str) -> str:
    """The label with one character of its serial changed, as a forger would."""
    position = len(base) + 10  # base32 characters 8..12 of the payload carry the serial
    swapped = "B" if label[position] != "B" else "C"
    return label[:position] + swapped + label[position + 1:]


def _line(sighting: Sighting, outcome: ScanOutcome) -> str:
    reason = outcome.reasons[-1] if outcome.verdict != "genuine" else outcome.reasons[0]
    return f"{sighting.subject}: {outcome.verdict} — {reason}"


def inspect_labels(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.formats.labels import decode_label_text

    entries = ctx.facts["signed"]["entries"]
    base = ctx.facts["signed"]["base_url"]
    pngs = ctx.facts["labels"]["png"]
    first, second = entries[0], entries[1]
    forged_text = _tampered(second["label"], base)
    forged_serial = str(decode_label_text(forged_text, (base,)).fields.serial)
    forged_png = _render_label(ctx, "forged", forged_serial, forged_text)
    sightings = (
        Sighting(f"piece {first['serial']}",
                 photograph(ctx, pngs[first["serial"]], f"{first['serial']}-jingdezhen", 1, 0),
                 "genuine"),
        Sighting(f"a copy of piece {second['serial']} relabelled {forged_serial}",
                 photograph(ctx, forged_png, f"forged-{forged_serial}", 2, 1), "tampered"),
    )
    moment = utc_now()
    lines = [f"Simulated phone photos (tilted, curved, blurred, glare, JPEG) of labels on SAMPLE "
             f"porcelain pictures, in {ctx.folder / 'photos'}; scanned at {JINGDEZHEN[0]} "
             f"({JINGDEZHEN[1]})."]
    for sighting in sightings:
        outcome = _scan(ctx, "inspect", sighting, place=JINGDEZHEN, moment=moment)
        lines.append(_line(sighting, outcome))
    lines.append(f"The forged label ({forged_png}) copies a genuine one with one character of "
                 "its serial changed: its signature no longer verifies.")
    return StepReport("inspect", "An inspector scans labelled pieces", tuple(lines),
                      {"photos": [str(s.photo) for s in sightings], "forged_label": str(forged_png),
                       "verdicts": step_verdicts_json(ctx, "inspect")})


def revoke_and_rogue_piece(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.categories import get_category
    from jdzhi.registry.licenses import change_status
    from jdzhi.timeutil import unix_time
    from jdzhi.trace.formats.records import RecordFields, sign_record
    from jdzhi.trace.keys.keyfile import load_key

    workshop = ctx.facts["workshop"]
    signed = ctx.facts["signed"]
    first = signed["entries"][0]
    # the revocation takes effect after the batch was signed: now, or one second after the
    # signing if the clock has not moved on since (the demo never sleeps)
    effective = max(utc_now(), signed["signed_at"] + timedelta(seconds=1))
    with ctx.registry() as db:
        change_status(db, workshop["license_no"], "revoke", effective_at=effective,
                      reason="demo (sample data): labels found on pieces from another kiln")
        category = get_category(db, first["category"])
    # the workshop still holds its key and labels a piece the registry would no longer sign
    key = load_key(workshop["key_path"], ctx.passphrase)
    rogue_serial = FIRST_SERIAL + len(PIECES)
    rogue = sign_record(RecordFields(
        key_id=workshop["key_id"], serial=rogue_serial, signed_at=unix_time(effective),
        category=category.label_code, enterprise_id=workshop["enterprise_id"], batch=BATCH,
        category_code=category.code, production_date=date.fromisoformat(
            first["production_date"]),
    ), key.sign)
    rogue_png = _render_label(ctx, "after-revocation", str(rogue_serial),
                              rogue.label.text(signed["base_url"]))
    earlier = Sighting(f"piece {first['serial']}, signed before the revocation",
                       ctx.facts["sightings"]["inspect"][0].photo, "genuine")
    later = Sighting(f"piece {rogue_serial}, signed after the revocation",
                     photograph(ctx, rogue_png, f"{rogue_serial}-after-revocation", 3, 2),
                     "revoked")
    lines = [f"License {workshop['license_no']} of {workshop['enterprise']} revoked, effective "
             f"{format_time(effective)}. The workshop kept its key and labelled piece "
             f"{rogue_serial} afterwards ({rogue_png})."]
    moment = utc_now()
    for sighting in (earlier, later):
        outcome = _scan(ctx, "revoke", sighting, place=JINGDEZHEN, moment=moment)
        lines.append(_line(sighting, outcome))
    return StepReport("revoke", "The workshop's license is revoked", tuple(lines),
                      {"license_no": workshop["license_no"],
                       "effective_at": format_time(effective), "rogue_label": str(rogue_png),
                       "verdicts": step_verdicts_json(ctx, "revoke")})


def clone_across_china(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.scanning.log import report

    entry = ctx.facts["signed"]["entries"][2]
    png = ctx.facts["labels"]["png"][entry["serial"]]
    here = Sighting(f"piece {entry['serial']} at {JINGDEZHEN[0]}",
                    photograph(ctx, png, f"{entry['serial']}-jingdezhen", 4, 3), "genuine")
    there = Sighting(f"piece {entry['serial']} at {URUMQI[0]}, an hour later",
                     photograph(ctx, png, f"{entry['serial']}-urumqi", 5, 4), "suspected-clone")
    first_at = utc_now()
    outcomes = [_scan(ctx, "clone", here, place=JINGDEZHEN, moment=first_at),
                _scan(ctx, "clone", there, place=URUMQI, moment=first_at + timedelta(hours=1))]
    lines = [f"The same genuine label, photographed at {JINGDEZHEN[0]} ({JINGDEZHEN[1]}) and "
             f"an hour later at {URUMQI[0]} ({URUMQI[1]}); every scan goes into the scan log."]
    lines += [f"{sighting.subject}: {outcome.verdict}"
              + (f" — {outcome.reasons[-2]}" if outcome.verdict != "genuine" else "")
              for sighting, outcome in zip((here, there), outcomes, strict=True)]
    log = report(ctx.home)
    lines.append(f"The scan log now holds {log.total} scans ("
                 + ", ".join(f"{n} {verdict}" for verdict, n in sorted(log.verdicts.items()))
                 + f"); `jdzhi --home {ctx.home.path} scans report` lists the suspected clones.")
    return StepReport("clone", "One label, two places at once", tuple(lines),
                      {"serial": entry["serial"], "verdicts": step_verdicts_json(ctx, "clone"),
                       "scan_log": scan_report_json(log)})


def offline_bundle(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.formats.records import base64url
    from jdzhi.trace.keys.authority import authority_public_path
    from jdzhi.trace.page.export import export_page
    from jdzhi.trace.trust.bundle import export_bundle

    out = ctx.folder / "trust-bundle.cbor"
    exported = export_bundle(ctx.home, out, ctx.passphrase)
    ctx.facts["authority_public_key"] = exported.authority_public_key
    authority = ctx.folder / "authority.pub"
    authority.write_bytes(authority_public_path(ctx.home).read_bytes())
    page = export_page(ctx.home, ctx.folder / "phone-page", bundle=out,
                       authority=exported.authority_public_key)
    online = {row.subject: row.verdict for row in ctx.verdicts}
    sightings = [*ctx.facts["sightings"]["inspect"], *ctx.facts["sightings"]["revoke"]]
    moment = utc_now()
    same = sum(online[s.subject] == _scan(ctx, "offline", s, place=JINGDEZHEN, moment=moment,
                                          bundle=out).verdict for s in sightings)
    return StepReport(
        "offline", "Offline: the trust bundle alone",
        (f"Exported {out} ({exported.size} bytes: {exported.keys} keys, {exported.enterprises} "
         f"enterprises, {exported.endorsements} endorsement), signed by the authority, valid "
         f"until {format_time(exported.expires_at)}.",
         f"Scanning the same photos with only the bundle and the authority public key "
         f"({authority.name}), no registry: {same} of {len(sightings)} verdicts are the same as "
         "the registry's. (Clone checks need the shared scan log, so they stay online.)",
         f"The phone page a label's URL opens checks the same signatures in the browser: "
         f"{page.path} (try `jdzhi serve --dir {page.path}` and open a label's URL with "
         "its base replaced by the address shown)."),
        {"bundle": str(out), "bytes": exported.size, "authority_public_key":
         base64url(exported.authority_public_key), "same_verdicts": same,
         "checked": len(sightings), "phone_page": page.path,
         "verdicts": step_verdicts_json(ctx, "offline")},
    )
