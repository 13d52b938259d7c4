"""The transparency log's pure core: RFC 9162 Merkle trees, C2SP signed notes, checkpoints and
cosignatures (no database, no files, no clock: the callers bring those)."""

__all__: list[str] = []
