"""Alembic's environment: run the migrations over the connection that
:func:`jdzhi.registry.migrations.upgrade` hands over, in the caller's transaction."""

from __future__ import annotations

from alembic import context

__all__: list[str] = []

_config = context.config
context.configure(
    connection=_config.attributes["connection"],
    on_version_apply=_config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()
