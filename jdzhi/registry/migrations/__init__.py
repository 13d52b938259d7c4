"""The registry's schema migrations: an Alembic environment configured in code (no alembic.ini).

Revisions live in ``versions/``; revision ``0001`` (:data:`BASELINE`) makes the schema that the
components' ``MIGRATIONS`` had reached when Alembic took over. A home made before that has no
``alembic_version`` table: :func:`upgrade` first applies the component versions it lacks (those
``MIGRATIONS`` are frozen: old homes still need them), stamps it at the baseline, then upgrades.

Alembic runs over the SQLAlchemy ``Connection`` of :class:`jdzhi.registry.db.Database` inside the
caller's write transaction (``registry.db.migrate`` holds it), so that the whole upgrade is one
all-or-nothing transaction that one process at a time runs. This module imports nothing of the
registry (``registry.db`` imports it), and Alembic only when a database is not at :data:`HEAD`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidState

if TYPE_CHECKING:
    import sqlalchemy
    from alembic.config import Config
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import ScriptDirectory

__all__ = ["BASELINE", "HEAD", "Upgrade", "alembic_config", "current_revision",
           "script_directory", "upgrade"]

#: the revision that stands for every component ``MIGRATIONS`` version of the day Alembic came
BASELINE = "0001"
#: the newest revision (tests/test_migrations.py checks it is the scripts' head): a database at
#: HEAD opens without importing Alembic
HEAD = "0003"

_FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade` did: old component versions applied (``name:version``), the revision
    an existing schema was stamped at (None when none was), and the revisions run, in order."""

    components: tuple[str, ...]
    stamped: str | None
    revisions: tuple[str, ...]


@cache
def script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def alembic_config(connection: sqlalchemy.Connection | None = None) -> Config:
    """The Alembic configuration, made in code; ``env.py`` runs over ``connection``.

    Developers make a new revision with
    ``alembic.command.revision(alembic_config(), "what changes", rev_id="0002")`` (DEVELOPERS.md).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_FOLDER))
    # versions/_0002_what_changes.py: a module name Python, mypy and tests/test_structure accept
    config.set_main_option("file_template", "_%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def current_revision(connection: sqlalchemy.Connection) -> str | None:
    """The revision the database is at (None before Alembic: a new or an old database)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sqlalchemy.Connection) -> Upgrade:
    """Bring the database to HEAD, inside the caller's write transaction.

    Refuses a database at a revision this jdzhi does not know (made by a newer jdzhi)."""
    from alembic import command
    from alembic.util import CommandError

    from jdzhi.registry.migrations import _components

    # Alembic begins and commits its own transaction unless one is open; the caller's is open on
    # the driver's connection, which SQLAlchemy (in autocommit mode) does not see: a logical
    # SQLAlchemy transaction tells Alembic so (the caller ends it after its own commit)
    if not connection.in_transaction():
        connection.begin()
    current = current_revision(connection)
    if current is not None:
        try:
            script_directory().get_revision(current)
        except CommandError:
            raise InvalidState(
                f"the registry's schema is at revision {current}, newer than this jdzhi knows "
                f"({HEAD}): upgrade jdzhi") from None
    components: tuple[str, ...] = ()
    stamped = None
    if current is None and _components.has_component_schema(connection):
        components = _components.apply_missing(connection)
        command.stamp(alembic_config(connection), BASELINE)
        stamped = BASELINE
    revisions: list[str] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        revisions.extend(step.up_revision_ids)

    config = alembic_config(connection)
    config.attributes["on_version_apply"] = record
    command.upgrade(config, "head")
    return Upgrade(components, stamped, tuple(revisions))
