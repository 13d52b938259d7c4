"""${message}

Revision ${up_revision} (after ${down_revision | comma,n}), made ${create_date}.
"""

from __future__ import annotations

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        raise NotImplementedError("the change in SQLite's dialect")
    raise NotImplementedError("the same change in PostgreSQL's")
