"""Verifying labels and full records offline: a verdict and the reasons for it.

The rules (docs/format.md, "Verdicts") in the order they apply:

1. ``malformed``: the text or bytes are not a canonical version-1 label or record, or a record's
   ``cat`` is not the code of its category ``c`` in the trust;
2. ``unknown-key``: the key id was never certified by the authority (or its certificate does not
   verify under the authority key: never trusted), is not a licensee key, was not yet certified
   at the signing time, or is not certified for the enterprise / category;
3. ``tampered``: the signature does not verify under the certified key;
4. ``revoked`` / ``expired``: signed at or after the effective time of the key's revocation /
   replacement, or after the key's validity window;
5. ``revoked`` / ``suspended`` / ``expired``: the license of the key was not active at the
   signing time (status in force at that moment; ``expired`` also past the license's end date);
6. ``recalled``: all of the above passed, but the item is recalled by now, whoever signed it and
   whenever (:meth:`Trust.recall_of`); a verdict of rule 4 or 5 names the recall too;
7. ``stale-trust``: all of the above passed, but the trust bundle is past its expiry (or the
   verifier's ``max_age_days``), so a revocation since then could be missing: it cannot confirm;
8. ``genuine``; a later revocation or suspension of the key or license does not change that, and
   adds a reason saying so.

A stale trust bundle also adds a reason to every other verdict (except ``malformed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jdzhi.errors import InvalidInput
from jdzhi.inputs import parse_json, read_jsonl_lines
from jdzhi.parallel import map_chunks
from jdzhi.registry.db import open_registry
from jdzhi.timeutil import format_time, from_unix, unix_time, utc_now
from jdzhi.trace.ed25519 import verify
from jdzhi.trace.formats.common import LabelError, external_aad
from jdzhi.trace.formats.cose import verify_sign1
from jdzhi.trace.formats.labels import LabelFields, decode_label_text
from jdzhi.trace.formats.records import base64url_decode, decode_record
from jdzhi.trace.tlog.seen import accept_bundle
from jdzhi.trace.trust.bundle import read_bundle
from jdzhi.trace.trust.from_registry import trust_from_registry
from jdzhi.trace.trust.model import (
    Endorsement,
    Trust,
    TrustedKey,
    TrustedLicense,
)
from jdzhi.trace.verification.result import (
    NO_ENDORSEMENT,
    EndorsementStatus,
    Verdict,
    VerificationResult,
)

if TYPE_CHECKING:
    from jdzhi.home import Home


__all__ = [
    "Verifier",
    "load_trust",
    "verify_input",
    "verify_jsonl",
    "verify_label_text",
    "verify_lines",
    "verify_record",
    "verify_signed_line",
]


@lru_cache(maxsize=4096)
def _when(seconds: int) -> str:
    # the records of a batch share a signing time, and keys and licenses their effective times
    return format_time(from_unix(seconds))


def load_trust(
    *,
    home: Home | None = None,
    bundle: Path | None = None,
    authority: bytes | None = None,
    now: datetime | None = None,
    max_age_days: int | None = None,
    witnesses: Sequence[str] = (),
) -> Trust:
    """Trust from a bundle file (checked against the authority key) or else the home's registry.

    ``authority`` pins the authority's raw public key for a bundle; without it, the home's
    authority key is used when the home has one. A stale bundle loads with a warning; with
    ``max_age_days`` a bundle is stale that many days after it was issued, if not before.
    Its log and cosignatures by the ``witnesses`` are then checked (:func:`accept_bundle`).
    """
    if bundle is not None:
        return accept_bundle(home, read_bundle(bundle, authority=authority, home=home,
                             now=now or utc_now(), max_age_days=max_age_days), witnesses)
    if witnesses:
        raise InvalidInput("--witness applies to a --trust bundle; give --trust FILE too")
    if home is None:
        raise InvalidInput("nothing to trust: give a jdzhi home or a trust bundle")
    db = open_registry(home)
    try:
        return trust_from_registry(db)
    finally:
        db.close()


def _malformed(reason: str, form: Literal["label", "record"],
               serial: str | None = None) -> VerificationResult:
    return VerificationResult(Verdict.MALFORMED, serial, None, (reason,), form=form)


#: what a verdict says beyond the record's own fields: verdict, reasons, and the named fields
#: of the result (enterprise, license, category) when the key is a licensee's
_Ruling = tuple[Verdict, tuple[str, ...], dict[str, Any]]


class Verifier:
    """The verdict rules (module docstring) against one trust source at one moment.

    The records of a batch share their key, signing time and category, and a verdict, once the
    signature verifies, depends on those alone (and on the serial only for the lab's
    endorsement): so a verifier rules once per combination and reuses the ruling."""

    def __init__(self, trust: Trust, now: datetime | None = None) -> None:
        self.trust = trust
        self.now = _now(now)
        #: when the trust data went out of date, if it has by now
        self.stale_since = (trust.expires_at if trust.expires_at is not None
                            and trust.stale_at(self.now) else None)
        self._rulings: dict[tuple[int, int, int, int | None], _Ruling] = {}

    def label_text(self, text: str) -> VerificationResult:
        """Verify the text of a QR label (``BASE + base32 payload``) strictly."""
        return self._confirmed(self._label_text(text))

    def record(self, data: bytes) -> VerificationResult:
        """Verify a full record (COSE_Sign1 bytes)."""
        return self._confirmed(self._record(data))

    def signed_line(self, line: str, line_no: int | None = None) -> VerificationResult:
        """Verify one SIGNED.jsonl line: its full record, its label, and that the two agree."""
        return self._confirmed(self._signed_line(line, line_no))

    def _confirmed(self, result: VerificationResult) -> VerificationResult:
        """The result as this verifier's trust data can vouch for it: with stale trust data a
        good signature is ``stale-trust``, and other verdicts say the data is old."""
        if self.stale_since is None or result.verdict is Verdict.MALFORMED:
            return result
        expired = _when(self.stale_since)
        if result.verdict is Verdict.GENUINE:
            return replace(result, verdict=Verdict.STALE_TRUST, reasons=(
                f"cannot confirm: trust data expired on {expired}, fetch a fresh one",
                *result.reasons))
        return replace(result, reasons=(
            *result.reasons, f"the trust bundle expired on {expired}: statuses may be out of date"))

    def _label_text(self, text: str) -> VerificationResult:
        try:
            label = decode_label_text(text, self.trust.bases)
        except LabelError as error:
            return _malformed(f"not a jdzhi label: {error}", "label")
        signing_input = label.fields.signing_input()
        return self._judge(
            label.fields, lambda public_key: verify(public_key, label.signature, signing_input),
            form="label")

    def _record(self, data: bytes) -> VerificationResult:
        try:
            message, fields = decode_record(data)
        except LabelError as error:
            return _malformed(f"not a jdzhi record: {error}", "record")
        category = self.trust.categories.get(fields.category)
        if category is not None and category.code != fields.category_code:
            return _malformed(f"the record's category {fields.category_code!r} contradicts its "
                              f"category code {fields.category} ({category.code})", "record",
                              str(fields.serial))
        aad = external_aad("record")
        return self._judge(
            fields.label_fields, lambda public_key: verify_sign1(message, public_key, aad),
            form="record", enterprise_claim=fields.enterprise_id, batch=fields.batch,
            production_date=fields.production_date.isoformat())

    def _signed_line(self, line: str, line_no: int | None = None) -> VerificationResult:
        where = f"line {line_no}: " if line_no is not None else ""
        try:
            entry = parse_json(line)
        except ValueError:
            return _malformed(f"{where}not a JSON object", "record")
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(key), str) for key in ("serial", "record", "label")
        ):
            return _malformed(f"{where}needs text fields serial, record and label", "record")
        try:
            data = base64url_decode(entry["record"])
        except LabelError as error:
            return _malformed(f"{where}record is {error}", "record", entry["serial"])
        record_result = self._record(data)
        label_result = self._label_text(entry["label"])
        reasons = list(record_result.reasons)
        verdict = record_result.verdict
        if label_result.verdict is not Verdict.GENUINE and verdict is Verdict.GENUINE:
            verdict = label_result.verdict
            reasons = [f"label: {reason}" for reason in label_result.reasons]
        elif record_result.verdict is not Verdict.MALFORMED and (
            label_result.serial != record_result.serial
            or label_result.signed_at != record_result.signed_at
            or label_result.key_id != record_result.key_id
            or label_result.category != record_result.category
        ) and label_result.verdict is not Verdict.MALFORMED:
            verdict = Verdict.TAMPERED
            reasons = ["the label and the full record do not say the same thing", *reasons]
        if record_result.serial is not None and entry["serial"] != record_result.serial:
            verdict = Verdict.TAMPERED if verdict is Verdict.GENUINE else verdict
            reasons = [f"the line's serial {entry['serial']!r} is not the record's", *reasons]
        if where:
            reasons = [f"{where}{reason}" if not reason.startswith(where) else reason
                       for reason in reasons]
        return VerificationResult(
            verdict, record_result.serial or entry["serial"], record_result.enterprise,
            tuple(reasons), record_result.endorsement, "record", record_result.enterprise_id,
            record_result.enterprise_short_name, record_result.key_id, record_result.category,
            record_result.category_name, record_result.signed_at, record_result.production_date,
            record_result.batch, record_result.license_no,
        )

    def _judge(self, fields: LabelFields, signature_ok: Callable[[bytes], bool], *, form: str,
               enterprise_claim: int | None = None, batch: str | None = None,
               production_date: str | None = None) -> VerificationResult:
        """Apply the verdict rules to decoded fields; ``signature_ok(public_key)`` checks the
        signature (of the label or the record) under a candidate key."""
        serial = str(fields.serial)
        base: dict[str, Any] = {"form": form, "key_id": fields.key_id,
                                "signed_at": from_unix(fields.signed_at), "batch": batch,
                                "production_date": production_date}
        key = self.trust.keys.get(fields.key_id)
        if key is None:
            refused = self.trust.refused_keys.get(fields.key_id)
            why = (f"key {fields.key_id} was never certified by the authority" if refused is None
                   else f"{refused}: the key is not trusted")
            return VerificationResult(Verdict.UNKNOWN_KEY, serial, None, (why,), **base)
        if not signature_ok(key.public_key):
            return VerificationResult(
                Verdict.TAMPERED, serial, None,
                (f"the signature does not verify under certified key {fields.key_id}: "
                 "the label or record was altered or forged",), **base)
        which = (fields.key_id, fields.signed_at, fields.category, enterprise_claim)
        ruling = self._rulings.get(which)
        if ruling is None:
            ruling = self._rulings[which] = self._rule(key, fields, enterprise_claim)
        verdict, reasons, ruled = ruling
        if verdict is Verdict.GENUINE and (late := self.trust.unlogged_reason(key, fields)):
            verdict, reasons = Verdict.REVOKED, (late,)
        named = dict(ruled)
        if named:  # a licensee's key: the lab's word on this record's batch, and any recall
            named["endorsement"] = _endorsement_status(
                self.trust, self.trust.endorsement_for(named["enterprise_id"], fields.serial))
            recall = self.trust.recall_of(named["enterprise_id"], fields.serial, self.now, batch)
            if recall is not None and verdict is not Verdict.UNKNOWN_KEY:
                verdict, reasons = ((Verdict.RECALLED, (recall.said(), *reasons))
                                    if verdict is Verdict.GENUINE
                                    else (verdict, (*reasons, f"also {recall.said()}")))
        return VerificationResult(verdict, serial, named.pop("enterprise", None), reasons,
                                  **base, **named)

    def _rule(self, key: TrustedKey, fields: LabelFields,
              enterprise_claim: int | None) -> _Ruling:
        """The verdict on a record whose signature verifies under ``key``."""

        def result(verdict: Verdict, *reasons: str, **named: Any) -> _Ruling:
            return verdict, reasons, named

        if key.role != "licensee" or key.enterprise_id is None or key.license_id is None:
            return result(Verdict.UNKNOWN_KEY,
                          f"key {fields.key_id} is a testing-center key, not a licensee "
                          "signing key")
        enterprise = self.trust.enterprises.get(key.enterprise_id)
        lic = self.trust.licenses.get(key.license_id)
        category = self.trust.categories.get(fields.category)
        named: dict[str, Any] = {
            "enterprise": enterprise.name if enterprise else None,
            "enterprise_id": key.enterprise_id,
            "enterprise_short_name": enterprise.short_name if enterprise else None,
            "license_no": lic.license_no if lic else None,
            "category": category.code if category else None,
            "category_name": f"{category.name_zh} {category.name_en}" if category else None,
        }
        signed = f"signed {_when(fields.signed_at)}"
        if enterprise_claim is not None and enterprise_claim != key.enterprise_id:
            return result(Verdict.UNKNOWN_KEY,
                          f"key {fields.key_id} is not certified for enterprise {enterprise_claim}",
                          **named)
        key_status = key.status_at(fields.signed_at)
        if key_status == "pending":
            return result(Verdict.UNKNOWN_KEY,
                          f"{signed}, before key {fields.key_id} was certified "
                          f"({_when(key.not_before)})", **named)
        ended = _when(key.ended_at) if key.ended_at is not None else ""
        if key_status == "superseded":
            return result(Verdict.EXPIRED,
                          f"{signed}, after key {fields.key_id} was replaced "
                          f"({ended}): {key.end_reason}", **named)
        if key_status == "revoked":
            return result(Verdict.REVOKED,
                          f"{signed}, after key {fields.key_id} was revoked effective "
                          f"{ended}: {key.end_reason}", **named)
        if key_status == "expired":
            return result(Verdict.EXPIRED,
                          f"{signed}, after key {fields.key_id} expired ({_when(key.not_after)})",
                          **named)
        if lic is None or enterprise is None:
            return result(Verdict.UNKNOWN_KEY,
                          f"the trust source does not know the license of key {fields.key_id}",
                          **named)
        status, event = lic.status_at(fields.signed_at)
        if status != "active":
            why = f": {event.reason}" if event and event.reason and status != "expired" else ""
            when = (f" effective {_when(event.effective_at)}"
                    if event and status in ("revoked", "suspended") else "")
            verdict = {"revoked": Verdict.REVOKED, "suspended": Verdict.SUSPENDED}.get(
                status, Verdict.EXPIRED)
            text = {"expired": "had expired", "pending": "was not yet in force"}.get(
                status, f"was {status}{when}")
            return result(verdict, f"{signed}, when license {lic.license_no} {text}{why}", **named)
        if fields.category not in lic.categories:
            shown = category.code if category else f"code {fields.category}"
            return result(Verdict.UNKNOWN_KEY,
                          f"key {fields.key_id} is not certified for category {shown}: license "
                          f"{lic.license_no} does not cover it", **named)
        reasons = [f"valid signature by key {fields.key_id} of {enterprise.name} "
                   f"(license {lic.license_no}), {signed} while the license was active"]
        if category is None:
            reasons.append(f"category code {fields.category} is unknown to this trust source")
        reasons += _since(key, lic, max(self.now, fields.signed_at))
        return result(Verdict.GENUINE, *reasons, **named)


def _since(key: TrustedKey, lic: TrustedLicense, moment: int) -> list[str]:
    """What has happened to a genuine record's key and license by ``moment`` (now)."""
    said = []
    key_status = key.status_at(moment)
    if key_status in ("revoked", "superseded") and key.ended_at is not None:
        how = "replaced" if key_status == "superseded" else "revoked"
        said.append(f"key {key.key_id} has since been {how} "
                    f"(effective {_when(key.ended_at)}); this record was signed before")
    status, event = lic.status_at(moment)
    if status in ("revoked", "suspended") and event is not None:
        said.append(f"the license has since been {status} (effective "
                    f"{_when(event.effective_at)}: {event.reason}); this record was signed before")
    elif status == "expired":
        said.append("the license has since expired; this record was signed before")
    return said


def _endorsement_status(trust: Trust, endorsement: Endorsement | None) -> EndorsementStatus:
    if endorsement is None:
        return NO_ENDORSEMENT
    lab = trust.labs.get(endorsement.lab_id)
    return EndorsementStatus(
        status=endorsement.outcome, lab=lab.name if lab else None,
        report_no=endorsement.report_no, tested_at=from_unix(endorsement.tested_at),
        batch=endorsement.batch, standard=endorsement.standard,
    )


def _now(now: datetime | None) -> int:
    return unix_time(now or utc_now())


def verify_label_text(text: str, trust: Trust, now: datetime | None = None) -> VerificationResult:
    """Verify the text of a QR label (``BASE + base32 payload``) strictly."""
    return Verifier(trust, now).label_text(text)


def verify_record(data: bytes, trust: Trust, now: datetime | None = None) -> VerificationResult:
    """Verify a full record (COSE_Sign1 bytes)."""
    return Verifier(trust, now).record(data)


def verify_signed_line(line: str, trust: Trust, now: datetime | None = None,
                       *, line_no: int | None = None) -> VerificationResult:
    """Verify one SIGNED.jsonl line: its full record, its label, and that the two agree."""
    return Verifier(trust, now).signed_line(line, line_no)


def verify_lines(context: tuple[Trust, datetime], lines: Sequence[tuple[int, str]]
                 ) -> list[VerificationResult]:
    """:func:`verify_signed_line` of numbered lines, against one trust source and moment."""
    verifier = Verifier(*context)
    return [verifier.signed_line(line, number) for number, line in lines]


def verify_jsonl(path: Path, trust: Trust, now: datetime | None = None,
                 progress: Callable[[int], None] | None = None, *, parallel: bool = False
                 ) -> list[VerificationResult]:
    """Verify every line of a SIGNED.jsonl file (blank lines skipped); ``parallel`` verifies a
    big file on every core (:mod:`jdzhi.parallel`)."""
    numbered = read_jsonl_lines(path)
    if not numbered:
        raise InvalidInput(f"{path} holds no signed records")
    results = []
    for result in map_chunks(verify_lines, (trust, now or utc_now()), numbered,
                             preload=__name__, parallel=parallel):
        results.append(result)
        if progress is not None:
            progress(1)
    return results


def verify_input(value: str, trust: Trust, now: datetime | None = None,
                 progress: Callable[[int], None] | None = None, *, parallel: bool = False
                 ) -> list[VerificationResult]:
    """A label text (anything that looks like a URL) or the path of a SIGNED.jsonl file."""
    if "://" in value:
        return [verify_label_text(value, trust, now)]
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:  # e.g. a name too long for the file system: no file by that name
        is_file = False
    if not is_file:
        raise InvalidInput(f"{value!r} is neither a label URL nor an existing SIGNED.jsonl file")
    return verify_jsonl(path, trust, now, progress, parallel=parallel)
