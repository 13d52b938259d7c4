"""The registry of licensed enterprises, their licenses and keys, kept in SQLite."""

__all__: list[str] = []  # the API is in the submodules
