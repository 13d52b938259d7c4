"""Tables of the traceability: keys, signed records, endorsements, scans."""

from __future__ import annotations

COMPONENT = "trace"
AUDITED_TABLES: dict[str, str] = {}
MIGRATIONS: tuple[tuple[str, ...], ...] = ()
