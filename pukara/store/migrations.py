"""Forward-only schema migrations; ``PRAGMA user_version`` is the schema version.

Append new steps at the end; never edit or reorder a released one.
"""

from __future__ import annotations

from pukara.store import changelog, rollups

MIGRATIONS: list[list[str]] = [
    # 1: metadata, events, generic entities, change log
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts_us INTEGER NOT NULL,
            dataset TEXT NOT NULL,
            host_name TEXT,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX events_ts ON events (ts_us)",
        "CREATE INDEX events_dataset_ts ON events (dataset, ts_us)",
        "CREATE INDEX events_host_ts ON events (host_name, ts_us)",
        """CREATE TABLE entities (
            collection TEXT NOT NULL,
            key TEXT NOT NULL,
            doc TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (collection, key)
        ) WITHOUT ROWID""",
        *changelog.SCHEMA,
    ],
    # 2: writes idempotent on event.id; who made each change
    [
        "ALTER TABLE events ADD COLUMN event_id TEXT",
        # the first row of each event.id keeps it; a later copy of the same document (a spool
        # replayed before writes were idempotent) is dropped, a different one keeps NULL
        """UPDATE events SET event_id = json_extract(doc, '$.event.id')
            WHERE id IN (SELECT min(id) FROM events WHERE json_type(doc, '$.event.id') = 'text'
                         GROUP BY json_extract(doc, '$.event.id'))""",
        "CREATE UNIQUE INDEX events_event_id ON events (event_id)",
        """DELETE FROM events WHERE event_id IS NULL
            AND json_type(doc, '$.event.id') = 'text'
            AND EXISTS (SELECT 1 FROM events AS first
                        WHERE first.event_id = json_extract(events.doc, '$.event.id')
                        AND first.doc = events.doc)""",
        "ALTER TABLE changes ADD COLUMN actor TEXT",
        "CREATE INDEX changes_ts ON changes (ts)",
    ],
    # 3: per-entity round summaries, 5-minute and hourly rollups
    rollups.SCHEMA,
]

SCHEMA_VERSION = len(MIGRATIONS)
