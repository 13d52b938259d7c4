"""The Alembic revisions of the registry schema, one module each (loaded by Alembic)."""

__all__: list[str] = []
