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
    ${upgrades if upgrades else "raise NotImplementedError('write the change, for SQLite and for PostgreSQL')"}
