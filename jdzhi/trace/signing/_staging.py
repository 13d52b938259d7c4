"""Signed records and the registry: those an earlier run stored, and the new ones staged in a
temporary table until every record of the run is signed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from jdzhi.trace.formats.records import RecordFields, decode_record

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

#: the columns of a new signed record: those of its row context (RowContext.stored), then its own
RECORD_COLUMNS = ("enterprise_id, key_id, batch, category_code, production_date, signed_at, "
                  "serial, record, label")


@dataclass(frozen=True)
class StoredRecord:
    """A record the registry holds already (an earlier run signed it)."""

    key_id: int
    record: bytes
    label: str
    signed_at: str


def stored_records(db: Database, enterprise_id: int,
                   serials: list[str]) -> dict[str, StoredRecord]:
    """The records of ``serials`` that the registry holds for the enterprise."""
    stored: dict[str, StoredRecord] = {}
    for start in range(0, len(serials), 500):
        chunk = serials[start:start + 500]
        for serial, key_id, record, label, signed_at in db.execute(
            "SELECT serial, key_id, record, label, signed_at FROM signed_records "
            f"WHERE enterprise_id = ? AND serial IN ({', '.join('?' * len(chunk))})",
            [enterprise_id, *chunk],
        ).fetchall():
            stored[serial] = StoredRecord(key_id, record, label, signed_at)
    return stored


def same_content(stored: StoredRecord, fields: RecordFields) -> bool:
    """Whether a stored record says what ``fields`` say, signing time apart."""
    if stored.key_id != fields.key_id:
        return False
    _message, stored_fields = decode_record(stored.record)
    return stored_fields == replace(fields, signed_at=stored_fields.signed_at)


class Staging:
    """New signed records held in a temporary table of this connection until every record of
    the run is signed: adding them costs most of what storing them does, and needs no lock on
    the registry. The table is dropped when the ``with`` block ends."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._moved = 0  # the staged rows up to this rowid are in the registry

    def __enter__(self) -> Staging:
        self.db.execute("DROP TABLE IF EXISTS temp.signing_stage")
        self.db.execute(f"CREATE TEMP TABLE signing_stage ({RECORD_COLUMNS})")
        return self

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        # one transaction per step, which touches the temporary database only: a third of the
        # cost of a transaction per row, and no lock on the registry
        insert = (f"INSERT INTO temp.signing_stage ({RECORD_COLUMNS}) "
                  f"VALUES ({', '.join('?' * 9)})")
        if self.db.in_transaction:  # the caller's
            self.db.executemany(insert, rows)
            return
        self.db.execute("BEGIN")
        try:
            self.db.executemany(insert, rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def move_to_registry(self) -> None:
        """Insert the records staged since the last move, in their order (inside the caller's
        transaction)."""
        self.db.execute(f"INSERT INTO signed_records ({RECORD_COLUMNS}) "
                        f"SELECT {RECORD_COLUMNS} FROM temp.signing_stage WHERE rowid > ? "
                        "ORDER BY rowid", [self._moved])
        self._moved = self.db.execute(
            "SELECT coalesce(max(rowid), 0) FROM temp.signing_stage").fetchone()[0]

    def __exit__(self, *_: object) -> None:
        self.db.execute("DROP TABLE IF EXISTS temp.signing_stage")
