"""Forward-only schema migrations; ``PRAGMA user_version`` is the schema version.

Append new steps at the end; never edit or reorder a released one. Each step is literal SQL,
frozen as it was released: a later change to a table is a new step, never an edit here
(``sqlite_master`` keeps the text verbatim, so even its whitespace is part of the schema).
"""

from __future__ import annotations

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
        """CREATE TABLE changes (
        seq INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
        before TEXT,
        after TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
        "CREATE INDEX changes_entity ON changes (collection, key)",
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
    [
        """CREATE TABLE round_summaries (
        entity TEXT NOT NULL,
        ts_us INTEGER NOT NULL,
        span_us INTEGER NOT NULL,
        up INTEGER,
        sent INTEGER NOT NULL,
        received INTEGER NOT NULL,
        rtt_min_us INTEGER, rtt_p10_us INTEGER, rtt_p25_us INTEGER, rtt_median_us INTEGER,
        rtt_p75_us INTEGER, rtt_p90_us INTEGER, rtt_max_us INTEGER,
        in_bps INTEGER, out_bps INTEGER,
        PRIMARY KEY (entity, ts_us)
    ) WITHOUT ROWID""",
        "CREATE INDEX round_summaries_down ON round_summaries (entity, ts_us, span_us) WHERE up = 0",
        """CREATE TABLE rollup_5m (
        entity TEXT NOT NULL,
        bucket_us INTEGER NOT NULL,
        rounds INTEGER NOT NULL,
        observed_us INTEGER NOT NULL,
        up_us INTEGER NOT NULL,
        down_us INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        received INTEGER NOT NULL,
        rtt_rounds INTEGER NOT NULL,
        rtt_min_us INTEGER, rtt_p10_us REAL, rtt_p25_us REAL, rtt_median_us REAL,
        rtt_p75_us REAL, rtt_p90_us REAL, rtt_max_us INTEGER,
        rate_samples INTEGER NOT NULL,
        in_bps REAL, out_bps REAL, busy_bps REAL,
        last_ts_us INTEGER NOT NULL,
        last_up INTEGER,
        PRIMARY KEY (entity, bucket_us)
    ) WITHOUT ROWID""",
        """CREATE TABLE rollup_1h (
        entity TEXT NOT NULL,
        bucket_us INTEGER NOT NULL,
        rounds INTEGER NOT NULL,
        observed_us INTEGER NOT NULL,
        up_us INTEGER NOT NULL,
        down_us INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        received INTEGER NOT NULL,
        rtt_rounds INTEGER NOT NULL,
        rtt_min_us INTEGER, rtt_p10_us REAL, rtt_p25_us REAL, rtt_median_us REAL,
        rtt_p75_us REAL, rtt_p90_us REAL, rtt_max_us INTEGER,
        rate_samples INTEGER NOT NULL,
        in_bps REAL, out_bps REAL, busy_bps REAL,
        last_ts_us INTEGER NOT NULL,
        last_up INTEGER,
        PRIMARY KEY (entity, bucket_us)
    ) WITHOUT ROWID""",
    ],
    # 4: the outbox of events waiting for the cluster, its exact size, and the dead letters
    # the cluster refused (with its reason) until an operator sends them again
    [
        """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stream TEXT NOT NULL,
        queued_us INTEGER NOT NULL,
        doc BLOB NOT NULL
    )""",
        """CREATE TABLE outbox_size (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        backlog INTEGER NOT NULL
    )""",
        "INSERT INTO outbox_size (id, backlog) VALUES (1, 0)",
        """CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stream TEXT NOT NULL,
        status INTEGER NOT NULL,
        error_type TEXT,
        reason TEXT,
        failed_us INTEGER NOT NULL,
        doc BLOB NOT NULL
    )""",
    ],
    # 5: the command (request id) each change belongs to, so one command's changes group
    [
        "ALTER TABLE changes ADD COLUMN request_id TEXT",
        "CREATE INDEX changes_request ON changes (request_id) WHERE request_id IS NOT NULL",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
