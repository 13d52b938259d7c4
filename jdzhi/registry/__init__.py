"""The registry of licensed enterprises, their licenses and keys, kept in SQLite."""
