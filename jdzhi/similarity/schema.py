"""Tables of the design-copy screening: registered works and their hashes."""

from __future__ import annotations

COMPONENT = "similarity"
AUDITED_TABLES: dict[str, str] = {}
MIGRATIONS: tuple[tuple[str, ...], ...] = ()
