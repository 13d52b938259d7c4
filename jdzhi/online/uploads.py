"""What signers send to the center: SIGNED.jsonl records (`jdzhi push`), the testing center's
endorsements (`jdzhi lab endorse --server`, `jdzhi lab push`) and trust bundles
(`jdzhi trust publish`). The center verifies everything; sending a thing again is harmless."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidInput, JdzhiError, NotFound, Unreachable
from jdzhi.online.client import UPLOAD_TIMEOUT, answer_fields, check_server_url, open_center
from jdzhi.server import MESSAGE_BODY_LIMIT, RECORDS_BODY_LIMIT

if TYPE_CHECKING:
    from jdzhi.home import Home

__all__ = ["PushPlan", "Pushed", "SentEndorsement", "TrustPublished", "publish_trust",
           "push_records", "send_endorsements"]


@dataclass(frozen=True)
class PushPlan:
    """How a SIGNED.jsonl file goes: ``lines`` records in ``parts`` requests."""

    lines: int
    parts: int


@dataclass(frozen=True)
class Pushed:
    server: str
    file: str
    lines: int
    requests: int
    stored: int
    already_stored: int


@dataclass(frozen=True)
class _Part:
    first_line: int
    last_line: int
    lines: int
    body: bytes


def _raw_lines(path: Path) -> Iterator[bytes]:
    try:
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder, not a SIGNED.jsonl file")
        with path.open("rb") as file:
            yield from file
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None


def _checked_line(path: Path, number: int, raw: bytes) -> str:
    """One non-blank line that looks like a SIGNED.jsonl line (the center verifies it)."""
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} line {number} is not UTF-8 text: is this a SIGNED.jsonl "
                           "that `jdzhi sign` wrote?") from None
    try:
        entry = json.loads(text) if len(text.splitlines()) == 1 else None
    except (ValueError, RecursionError):
        entry = None
    if not (isinstance(entry, dict) and isinstance(entry.get("record"), str)
            and isinstance(entry.get("label"), str)):
        raise InvalidInput(f"{path} line {number} is not a signed record as `jdzhi sign` "
                           "writes them (a JSON object with record and label)")
    return text


def _parts(path: Path, max_bytes: int) -> Iterator[_Part]:
    """The file's lines in request bodies of at most ``max_bytes``, each starting at a record
    (blank lines inside a part are kept, so that the server numbers lines as the file does)."""
    body: list[bytes] = []
    size = first = last = lines = blanks = 0
    for number, raw in enumerate(_raw_lines(path), start=1):
        if not raw.strip():
            blanks += 1
            continue
        line = (_checked_line(path, number, raw) + "\n").encode("utf-8")
        if len(line) > max_bytes:
            raise InvalidInput(f"{path} line {number} is longer than the center takes in one "
                               f"request ({max_bytes} bytes)")
        if body and size + blanks + len(line) > max_bytes:
            yield _Part(first, last, lines, b"".join(body))
            body, size, lines = [], 0, 0
        if not body:
            first, blanks = number, 0
        body.append(b"\n" * blanks + line)
        size, last, lines, blanks = size + blanks + len(line), number, lines + 1, 0
    if body:
        yield _Part(first, last, lines, b"".join(body))


def push_records(server: str, path: Path, *, max_request_bytes: int = RECORDS_BODY_LIMIT,
                 planned: Callable[[PushPlan], None] | None = None,
                 progress: Callable[[int], None] | None = None) -> Pushed:
    """Send a SIGNED.jsonl file to the center (`POST /api/v1/records`), all or none: in one
    request when it fits the center's limit, else in parts of at most ``max_request_bytes``,
    each all or none. Every line is checked for form before anything is sent; re-sending lines
    stored before is harmless, so running it again after a failure completes an upload."""
    base = check_server_url(server)
    plan = PushPlan(0, 0)
    for part in _parts(path, max_request_bytes):  # the whole file checked before sending
        plan = PushPlan(plan.lines + part.lines, plan.parts + 1)
    if not plan.lines:
        raise InvalidInput(f"{path} holds no signed records")
    if planned is not None:
        planned(plan)
    stored = already = requests = last_sent = 0
    with open_center(base) as center:
        for part in _parts(path, max_request_bytes):
            try:
                _, answer = center.call(
                    "POST", "/api/v1/records", what=f"{path}", content=part.body,
                    content_type="application/x-ndjson", timeout=UPLOAD_TIMEOUT,
                    params={"first_line": str(part.first_line)})
                counts = answer_fields(answer, center, stored=int, already_stored=int)
            except JdzhiError as error:
                raise type(error)(error.message + _push_advice(path, base, last_sent),
                                  error.exit_code) from None
            stored += counts["stored"]
            already += counts["already_stored"]
            requests, last_sent = requests + 1, part.last_line
            if progress is not None:
                progress(part.lines)
    return Pushed(base, str(path), plan.lines, requests, stored, already)


def _push_advice(path: Path, server: str, last_sent: int) -> str:
    if not last_sent:
        return ""
    return (f"; lines 1-{last_sent} of {path} were sent before and are stored: run "
            f"`jdzhi push {path} --server {server}` again to send the rest")


# ---------------------------------------------------------------------------------------------
# endorsements: `jdzhi lab endorse --server`, `jdzhi lab push`


@dataclass(frozen=True)
class SentEndorsement:
    report_no: str
    lab_id: int
    outcome: str
    batch: str
    enterprise: str
    #: whether the center stored it now (False: it had it already)
    created: bool


def send_endorsements(server: str, home: Home, report_no: str, *,
                      lab_id: int | None = None) -> tuple[SentEndorsement, ...]:
    """Send the endorsements recorded in this home under ``report_no`` (of ``lab_id``, else of
    every lab) to the center (`POST /api/v1/endorsements`); sending one again is harmless."""
    from jdzhi.registry.db import open_registry

    base = check_server_url(server)
    db = open_registry(home)
    try:
        found = db.execute(  # the parameter cast: PostgreSQL cannot type a bare NULL one
            "SELECT lab_id, message FROM endorsements WHERE report_no = ? "
            "AND (CAST(? AS BIGINT) IS NULL OR lab_id = ?) ORDER BY id",
            [report_no, lab_id, lab_id]).fetchall()
    finally:
        db.close()
    if not found:
        raise NotFound(f"no endorsement with report number {report_no!r} in this home "
                       "(`jdzhi lab endorse` records them)")
    sent: list[SentEndorsement] = []
    with open_center(base) as center:
        for lab, message in found:
            try:
                status, answer = center.call(
                    "POST", "/api/v1/endorsements", what=f"report {report_no}",
                    content=bytes(message), content_type="application/cose")
                fields = answer_fields(answer, center, outcome=str, batch=str, enterprise=str)
            except Unreachable as error:
                raise Unreachable(f"{error.message}; report {report_no} is recorded in this "
                                  f"home: send it with `jdzhi lab push {report_no} --server "
                                  f"{base}`") from None
            sent.append(SentEndorsement(report_no, int(lab), fields["outcome"], fields["batch"],
                                        fields["enterprise"], status == 201))
    return tuple(sent)


# ---------------------------------------------------------------------------------------------
# trust bundles: `jdzhi trust publish`


@dataclass(frozen=True)
class TrustPublished:
    server: str
    file: str
    issued_at: str
    expires_at: str
    size: int
    sha256: str
    keys: int
    enterprises: int
    endorsements: int


def publish_trust(server: str, path: Path) -> TrustPublished:
    """Make a bundle of `jdzhi trust export` the center's current one (`POST /api/v1/trust`):
    the center accepts it only when its authority key signed it and it is newer."""
    base = check_server_url(server)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder, not a trust bundle")
        if size > MESSAGE_BODY_LIMIT:
            raise InvalidInput(f"{path} is {size} bytes: too large to be a trust bundle")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None
    with open_center(base) as center:
        _, answer = center.call("POST", "/api/v1/trust", what=f"the bundle {path}",
                                content=data, content_type="application/cbor")
        fields = answer_fields(answer, center, issued_at=str, expires_at=str, size=int, sha256=str,
                         keys=int, enterprises=int, endorsements=int)
    return TrustPublished(base, str(path), fields["issued_at"], fields["expires_at"],
                          fields["size"], fields["sha256"], fields["keys"],
                          fields["enterprises"], fields["endorsements"])
