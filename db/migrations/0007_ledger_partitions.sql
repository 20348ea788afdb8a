-- Ledger retention (issue 13, open consideration 4): event_ledger becomes a declaratively
-- partitioned table, so retiring old history is detaching a partition, not a mass DELETE.
-- docs/ledger-retention.md explains the scheme.
--
-- Partition key: session_started_at, the starting time of the row's session (sessions.created_at),
-- monthly ranges (UTC) plus a DEFAULT partition. Why the session's start and not the row's own
-- created_at: a unique index on a partitioned table must contain the partition key. Every row of
-- a session carries the same session_started_at (the composite foreign key below makes the
-- database enforce it), so (session_id, client_input_id, session_started_at) is unique exactly
-- when (session_id, client_input_id) is: retransmission dedupe, effect idempotency keys and
-- per-session narrative_ts keep today's meaning, enforced by the same ON CONFLICT arbiters, with
-- no side table and no extra write on the append path. A session's whole history is in one
-- partition, so a month whose sessions all ended can be retired as one table.
-- Ids still come from the one sequence event_ledger_id_seq; the primary key is (id, session_started_at).
-- Runs the same on PostgreSQL and on PGlite.

-- The composite foreign key's target (created_at never changes; the key makes changing it fail).
ALTER TABLE sessions ADD CONSTRAINT sessions_id_created_at UNIQUE (id, created_at);

-- Creates the month partition of `parent` holding `at` (UTC months) if missing. Rows the
-- parent's DEFAULT partition already holds for that month are moved into it first (a
-- partition cannot be created over rows in the default). Returns true if it created one.
CREATE FUNCTION ledger_month_partition(parent TEXT, at TIMESTAMPTZ) RETURNS BOOLEAN
LANGUAGE plpgsql AS $fn$
DECLARE
  lo   TIMESTAMPTZ := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  hi   TIMESTAMPTZ := (date_trunc('month', at AT TIME ZONE 'UTC') + INTERVAL '1 month') AT TIME ZONE 'UTC';
  name TEXT := parent || '_' || to_char(at AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
  dflt TEXT := parent || '_default';
  stray BOOLEAN := false;
BEGIN
  IF to_regclass(name) IS NOT NULL THEN RETURN false; END IF;
  IF to_regclass(dflt) IS NOT NULL THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE session_started_at >= $1 AND session_started_at < $2)', dflt) INTO stray USING lo, hi;
  END IF;
  IF stray THEN
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE session_started_at >= $1 AND session_started_at < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved', dflt, name) USING lo, hi;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  ELSE
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', name, parent, lo, hi);
  END IF;
  RETURN true;
END $fn$;

-- Every month partition of event_ledger from `from_at` through `to_at`; the engine calls it at
-- start-up and daily with (now, now + 2 months). Returns how many it created.
CREATE FUNCTION ledger_ensure_partitions(from_at TIMESTAMPTZ, to_at TIMESTAMPTZ) RETURNS INT
LANGUAGE plpgsql AS $fn$
DECLARE
  m TIMESTAMPTZ := date_trunc('month', from_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  created INT := 0;
BEGIN
  WHILE m <= to_at LOOP
    IF ledger_month_partition('event_ledger', m) THEN created := created + 1; END IF;
    m := (date_trunc('month', m AT TIME ZONE 'UTC') + INTERVAL '1 month') AT TIME ZONE 'UTC';
  END LOOP;
  RETURN created;
END $fn$;

-- Today's table steps aside; its sequence is kept (ids continue) and handed to the new table.
ALTER TABLE event_ledger RENAME TO event_ledger_unpartitioned;
ALTER SEQUENCE event_ledger_id_seq OWNED BY NONE;

CREATE TABLE event_ledger (
    id                 BIGINT NOT NULL DEFAULT nextval('event_ledger_id_seq'),
    session_id         UUID NOT NULL,
    scene_id           UUID,
    turn               INT,
    event_type         TEXT NOT NULL,
    event_data         JSONB NOT NULL,
    confidence         REAL,
    source             TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    narrative_ts       BIGINT NOT NULL,
    client_input_id    TEXT,
    input_id           BIGINT,
    idempotency_key    TEXT,
    -- The partition key: sessions.created_at of session_id (enforced by the foreign key).
    session_started_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, session_started_at),
    FOREIGN KEY (session_id, session_started_at) REFERENCES sessions (id, created_at)
) PARTITION BY RANGE (session_started_at);
ALTER SEQUENCE event_ledger_id_seq OWNED BY event_ledger.id;

CREATE TABLE event_ledger_default PARTITION OF event_ledger DEFAULT;
SELECT ledger_ensure_partitions(COALESCE((SELECT min(created_at) FROM sessions), NOW()), NOW() + INTERVAL '2 months');

INSERT INTO event_ledger (id, session_id, scene_id, turn, event_type, event_data, confidence, source, created_at, narrative_ts,
                          client_input_id, input_id, idempotency_key, session_started_at)
SELECT o.id, o.session_id, o.scene_id, o.turn, o.event_type, o.event_data, o.confidence, o.source, o.created_at, o.narrative_ts,
       o.client_input_id, o.input_id, o.idempotency_key, s.created_at
FROM event_ledger_unpartitioned o JOIN sessions s ON s.id = o.session_id
ORDER BY o.id;

DROP TABLE event_ledger_unpartitioned;

-- Today's indexes, each unique one with the partition key appended (same meaning, see above).
CREATE INDEX idx_ledger_session_turn ON event_ledger(session_id, turn);
CREATE INDEX idx_ledger_scene ON event_ledger(scene_id);
CREATE INDEX idx_ledger_type ON event_ledger(event_type);
CREATE INDEX idx_ledger_narrative_ts ON event_ledger(narrative_ts);
CREATE UNIQUE INDEX idx_ledger_session_ts ON event_ledger(session_id, narrative_ts, session_started_at);
CREATE UNIQUE INDEX idx_ledger_client_input ON event_ledger(session_id, client_input_id, session_started_at)
    WHERE client_input_id IS NOT NULL;
CREATE UNIQUE INDEX idx_ledger_idempotency ON event_ledger(session_id, idempotency_key, session_started_at)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX idx_ledger_session_input ON event_ledger(session_id, input_id) WHERE input_id IS NOT NULL;

-- Archived history (`storyteller ledger archive`): the same columns, partitioned the same way, so
-- a whole month that qualifies moves by DETACH + ATTACH; partial months move row by row. No
-- DEFAULT partition: month partitions are created on demand before rows move in.
CREATE TABLE event_ledger_archive (LIKE event_ledger INCLUDING DEFAULTS) PARTITION BY RANGE (session_started_at);
CREATE INDEX idx_ledger_archive_session_ts ON event_ledger_archive(session_id, narrative_ts);
CREATE INDEX idx_ledger_archive_client_input ON event_ledger_archive(session_id, client_input_id) WHERE client_input_id IS NOT NULL;

-- The summary checkpoint of each archived session: what moved (rows up to horizon_ts), the
-- checkpoint that covers it (recovery starts there, never in the archive) and that
-- checkpoint's truth set, checked at archive time against a replay of the ledger from its first row.
CREATE TABLE ledger_archive_summaries (
    session_id     UUID PRIMARY KEY REFERENCES sessions(id),
    horizon_ts     BIGINT NOT NULL,
    checkpoint_id  UUID NOT NULL,
    truth_set      JSONB NOT NULL,
    archived_rows  BIGINT NOT NULL,
    archived_before TIMESTAMPTZ NOT NULL,
    archived_at    TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- A session's whole history, live and archived: what temporal predicates (After / Since /
-- Sequence over the history from the first row) and the audit's replay read. Recovery reads
-- only rows after its checkpoint, which are never archived. Both halves are indexed on
-- (session_id, narrative_ts); the planner pushes the WHERE down into each.
CREATE VIEW event_ledger_history AS
    SELECT * FROM event_ledger
    UNION ALL
    SELECT * FROM event_ledger_archive;
