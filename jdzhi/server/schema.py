"""Tables of the online service center: inspectors (token hashes), anonymous page scans and
their per-serial counts, and the published trust bundles.

Page scans are kept apart from the scan log (``scans``) on purpose: the log is evidence that clone
detection acts on, and anonymous scans from the verification page are not. Neither table keeps a
client address; ``page_scan_clients`` keeps one row per serial, day and client, the client known
only by a salted hash whose salt changes daily and is never stored.
"""

from __future__ import annotations

__all__ = ["AUDITED_TABLES", "COMPONENT", "MIGRATIONS"]

COMPONENT = "server"

AUDITED_TABLES: dict[str, str] = {"inspectors": "id", "published_bundles": "id"}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE inspectors (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            token_sha256 BLOB NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )""",
        """CREATE TABLE published_bundles (
            id INTEGER PRIMARY KEY,
            issued_at TEXT NOT NULL UNIQUE,
            expires_at TEXT NOT NULL,
            published_at TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            bundle BLOB NOT NULL
        )""",
        """CREATE TABLE page_scans (
            id INTEGER PRIMARY KEY,
            scanned_at TEXT NOT NULL,
            location TEXT NOT NULL,
            latitude REAL,
            longitude REAL,
            verdict TEXT NOT NULL,
            enterprise_id INTEGER,
            serial TEXT,
            label_text TEXT NOT NULL,
            reasons TEXT NOT NULL
        )""",
        "CREATE INDEX page_scans_serial ON page_scans (enterprise_id, serial, scanned_at)",
        """CREATE TRIGGER page_scans_no_update BEFORE UPDATE ON page_scans
           BEGIN SELECT RAISE(ABORT, 'the page scan log is append-only'); END""",
        """CREATE TRIGGER page_scans_no_delete BEFORE DELETE ON page_scans
           BEGIN SELECT RAISE(ABORT, 'the page scan log is append-only'); END""",
        """CREATE TABLE page_checks (
            enterprise_id INTEGER NOT NULL,
            serial TEXT NOT NULL,
            checks INTEGER NOT NULL,
            first_checked_at TEXT NOT NULL,
            PRIMARY KEY (enterprise_id, serial)
        ) WITHOUT ROWID""",
        """CREATE TABLE page_scan_clients (
            enterprise_id INTEGER NOT NULL,
            serial TEXT NOT NULL,
            day TEXT NOT NULL,
            client BLOB NOT NULL,
            scanned_at TEXT NOT NULL,
            location TEXT NOT NULL,
            latitude REAL,
            longitude REAL,
            PRIMARY KEY (enterprise_id, serial, day, client)
        ) WITHOUT ROWID""",
    ),
)
