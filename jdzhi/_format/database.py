"""The registry database: a copy into PostgreSQL (`jdzhi db copy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdzhi.registry.db_copy import CopyResult


def copy_json(result: CopyResult) -> dict[str, Any]:
    return {
        "source": result.source,
        "target": result.target,
        "revision": result.revision,
        "tables": dict(result.tables),
        "rows": result.rows,
        "audit": {"ok": result.audit.ok, "entries": result.audit.entries,
                  "head_hash": result.audit.head_hash, "problems": list(result.audit.problems)},
        "checkpoints": {"ok": True, "verified": result.checkpoints},
    }
