"""Which records of revoked keys the registry logged in time (docs/format.md, bundle ``logged``).

After a key or its license is revoked, a record signed before the effective time stays genuine
only if the batch that signed it was logged (its ``records.sign`` audit entry, dated by the
center's clock) no later than that time. A thief with a stolen key can write any signing time
into a label but cannot add an entry to the log before the revocation: the log is append-only
and every export checks it against the checkpoints already signed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from jdzhi.timeutil import stored_time, unix_time

if TYPE_CHECKING:
    from jdzhi.registry.db import Database
    from jdzhi.trace.trust.model import SerialRanges, TrustedKey, TrustedLicense

__all__ = ["as_ranges", "logged_serials"]


def as_ranges(serials: Iterable[int]) -> SerialRanges:
    """Serials as sorted, disjoint inclusive ranges, neighbours joined."""
    ranges: list[tuple[int, int]] = []
    for serial in sorted(set(serials)):
        if ranges and ranges[-1][1] + 1 == serial:
            ranges[-1] = (ranges[-1][0], serial)
        else:
            ranges.append((serial, serial))
    return tuple(ranges)


def logged_serials(db: Database, keys: Mapping[int, TrustedKey],
                   licenses: Mapping[int, TrustedLicense], now: int) -> dict[int, SerialRanges]:
    """For each licensee key whose revocation (or its license's) is in effect at ``now``: the
    serials it signed in batches logged no later than the revocation took effect."""
    from jdzhi.trace.trust.model import revocation_time

    revoked = {key_id: since for key_id, key in keys.items() if key.role == "licensee"
               and (since := revocation_time(key, licenses.get(key.license_id or 0)))
               is not None and since <= now}
    logged: dict[int, list[int]] = {key_id: [] for key_id in revoked}
    batches: dict[str, list[tuple[int, bool]]] = {}
    for entity, at, details in db.execute(
        "SELECT entity, at, details FROM audit_log WHERE action = 'records.sign' ORDER BY seq"
    ):
        key_id = json.loads(details).get("key_id")
        in_time = key_id in revoked and unix_time(stored_time(at)) <= revoked[key_id]
        batches.setdefault(entity, []).append((int(json.loads(details)["count"]), in_time))
    for entity, entries in batches.items():
        if not any(in_time for _, in_time in entries):
            continue
        _, enterprise_id, signed_at = entity.split(":", 2)
        records = db.execute("SELECT serial, key_id FROM signed_records WHERE enterprise_id = ? "
                             "AND signed_at = ? ORDER BY id",
                             [int(enterprise_id), signed_at]).fetchall()
        start = 0
        for count, in_time in entries:  # the runs of one second follow in their entries' order
            if in_time:
                for serial, key_id in records[start:start + count]:
                    if key_id in logged:
                        logged[key_id].append(int(serial))
            start += count
    return {key_id: as_ranges(serials) for key_id, serials in logged.items()}
