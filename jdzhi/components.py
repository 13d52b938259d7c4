"""The components whose tables share the home's database, in the order their migrations run.

This is the composition root of the database: :mod:`jdzhi.registry.db` applies the migrations of
the modules listed here without naming (or importing) the packages that build on it. A component
module declares ``COMPONENT``, ``MIGRATIONS`` and ``AUDITED_TABLES`` (see :mod:`jdzhi.registry.db`).
"""

from __future__ import annotations

__all__ = ["COMPONENT_MODULES"]

COMPONENT_MODULES = (
    "jdzhi.registry.audit",
    "jdzhi.registry.schema",
    "jdzhi.trace.schema",
    "jdzhi.trace.scanning.log",
    "jdzhi.trace.recalls.schema",
    "jdzhi.similarity.schema",
    "jdzhi.server.schema",
    "jdzhi.trace.tlog.schema",
)
