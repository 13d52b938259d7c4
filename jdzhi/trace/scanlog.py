"""The scan log: every label scan (time, inspector, location, verdict), for clone detection."""

from __future__ import annotations

COMPONENT = "scans"
AUDITED_TABLES: dict[str, str] = {}
MIGRATIONS: tuple[tuple[str, ...], ...] = ()
