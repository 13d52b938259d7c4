"""``jdzhi lab witness``: a testing center cosigns a bundle's log checkpoint with its lab key."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import Conflict, InvalidInput, KeyUnusable
from jdzhi.timeutil import unix_time, utc_now
from jdzhi.trace.keys.keyfile import load_key
from jdzhi.trace.tlog.seen import accept_bundle
from jdzhi.trace.tlog.witness import cosignature_line
from jdzhi.trace.trust.bundle import read_bundle

if TYPE_CHECKING:
    from jdzhi.home import Home

__all__ = ["witness_bundle"]


def witness_bundle(home: Home, bundle: Path, *, key_file: Path, passphrase: bytes,
                   authority: bytes | None, out: Path | None = None,
                   now: datetime | None = None) -> str:
    """The cosignature line of ``bundle``'s checkpoint by the lab key in ``key_file``, written
    to ``out`` (never overwritten) when given.

    The checkpoint must extend every one this home accepted before, as a witness promises; the
    key must be a lab key the bundle certifies, in force now.
    """
    moment = now or utc_now()
    trust = read_bundle(bundle, authority=authority, home=home, now=moment)
    if trust.log is None:
        raise InvalidInput(f"{bundle} carries no log checkpoint to cosign (made by an older "
                           "jdzhi): ask the service center for a new bundle")
    signing_key = load_key(key_file, passphrase)
    lab_key = next((k for k in trust.keys.values()
                    if k.role == "lab" and k.public_key == signing_key.public_key), None)
    if lab_key is None:
        raise KeyUnusable(f"{key_file} is not a testing-center key that {bundle} certifies")
    status = lab_key.status_at(unix_time(moment))
    if status != "active":
        raise KeyUnusable(f"lab key {lab_key.key_id} is {status}: it cannot witness")
    accept_bundle(home, trust)
    line = cosignature_line(trust.log.note, lab_key, signing_key.secret, moment)
    if out is not None:
        try:
            descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(line)
        except FileExistsError:
            raise Conflict(f"{out} already exists; choose another name") from None
        except OSError as error:
            raise InvalidInput(f"cannot write {out}: {error.strerror}") from None
    return line
