"""The one place where the server calls the traceability library (verification, the scan log's
clone rules, trust bundles, lab endorsements, record formats, the page): the library is being
restructured, and these names are re-pointed here and nowhere else.

The server package is imported only by ``jdzhi server``, so the library (and its heavy
dependencies) is imported at the top here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from jdzhi.errors import IntegrityError
from jdzhi.timeutil import format_time, from_unix
from jdzhi.trace.endorsements.lab import decode_endorsement, endorsement_json
from jdzhi.trace.formats.cose import MAX_MESSAGE_BYTES
from jdzhi.trace.formats.records import RecordFields, base64url_decode, decode_record
from jdzhi.trace.keys.authority import authority_public_key
from jdzhi.trace.keys.certified import trusted_keys
from jdzhi.trace.page import export as page_export
from jdzhi.trace.page import serve as page_serve
from jdzhi.trace.scanning.decode import SUSPECTED_CLONE, ScanOutcome
from jdzhi.trace.scanning.log import (
    ClonePolicy,
    Location,
    Sighting,
    clone_reasons,
    earlier_sightings,
    enterprise_id_of,
    log_scan,
    parse_location,
)
from jdzhi.trace.tlog.seen import check_extends
from jdzhi.trace.trust.bundle import decode_bundle
from jdzhi.trace.trust.from_registry import accepted_bases, trust_from_registry
from jdzhi.trace.trust.model import Endorsement, Trust
from jdzhi.trace.verification.result import VerificationResult
from jdzhi.trace.verification.verifier import Verifier

if TYPE_CHECKING:
    from datetime import datetime

    from jdzhi.registry.db import Database

__all__ = [
    "SUSPECTED_CLONE",
    "ClonePolicy",
    "Endorsement",
    "Location",
    "ScanOutcome",
    "Sighting",
    "Trust",
    "VerificationResult",
    "Verifier",
    "as_suspected_clone",
    "authority_public_key",
    "base64url_decode",
    "check_extends",
    "checked_bundle",
    "checked_endorsement",
    "checkpoint_note",
    "clone_reasons",
    "earlier_sightings",
    "endorsement_json",
    "enterprise_id_of",
    "from_unix",
    "label_outcome",
    "log_scan",
    "page_files",
    "page_headers",
    "page_prefixes",
    "parse_location",
    "record_fields",
    "trust_from_registry",
    "unix_to_text",
]

BUNDLE_FILE = page_export.BUNDLE_FILE


def label_outcome(check: Verifier, text: str) -> ScanOutcome:
    """The verdict on one label text, in the form `jdzhi scan --json` gives (no photo)."""
    result = check.label_text(text)
    return ScanOutcome(image="", verdict=str(result.verdict), serial=result.serial,
                       enterprise=result.enterprise, reasons=tuple(result.reasons), text=text,
                       verification=result)


def as_suspected_clone(outcome: ScanOutcome, reasons: list[str]) -> ScanOutcome:
    return replace(outcome, verdict=SUSPECTED_CLONE, reasons=(*outcome.reasons, *reasons))


def record_fields(record_base64: str) -> RecordFields:
    """The fields of a record whose line verified (so it decodes)."""
    return decode_record(base64url_decode(record_base64))[1]


def checked_endorsement(db: Database, message: bytes) -> Endorsement:
    """An endorsement checked against its lab's certified key (IntegrityError if it fails)."""
    return decode_endorsement(message, trusted_keys(db))


def checked_bundle(data: bytes, authority: bytes, now: datetime) -> Trust:
    """A trust bundle checked against the authority public key (IntegrityError if it fails)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise IntegrityError("far too large to be a trust bundle")
    return decode_bundle(data, authority, now=now, source="uploaded bundle")


def checkpoint_note(trust: Trust) -> str | None:
    """The signed checkpoint of the registry's log a bundle carries (None: an unlogged one)."""
    return trust.log.note.decode() if trust.log is not None else None


def unix_to_text(seconds: int) -> str:
    return format_time(from_unix(seconds))


def page_files(authority: bytes, scans_url: str) -> dict[str, bytes]:
    """The page's files as `jdzhi page export` writes them, the authority key pinned, reporting
    each check to ``scans_url`` (the page online)."""
    return page_export.page_contents(authority, scans_url=scans_url)


def page_headers() -> tuple[dict[str, str], dict[str, str]]:
    """(content type by file name, security headers) of the page, as `jdzhi serve` sends them."""
    return dict(page_serve.CONTENT_TYPES), dict(page_serve.SECURITY_HEADERS)


def page_prefixes(db: Database) -> tuple[str, tuple[str, ...]]:
    """(the folder the page's files are served from, the label paths that open the page)."""
    paths = tuple(dict.fromkeys(page_export.base_path(base) for base in accepted_bases(db)))
    return paths[0].rstrip("/").rpartition("/")[0] + "/", paths
