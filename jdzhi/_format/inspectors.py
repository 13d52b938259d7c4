"""Inspectors of the online service center."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdzhi.server.inspectors import Inspector


def inspector_json(inspector: Inspector) -> dict[str, Any]:
    return {"id": inspector.id, "name": inspector.name, "created_at": inspector.created_at,
            "revoked_at": inspector.revoked_at}
