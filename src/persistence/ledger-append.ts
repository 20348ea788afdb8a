import type { Queryable } from './database.ts';
import { LEDGER_COLUMNS } from './ledger-rows.ts';

/**
 * One statement that appends a batch of ledger rows for many sessions. Run in
 * autocommit it is one round trip and one COMMIT for the whole batch, which is the
 * point of group commit. Everything that could make one row fail is decided per row
 * inside the statement instead of raising, so a bad row never takes its neighbours
 * down:
 *   - narrative_ts comes from `sessions.last_narrative_ts`, bumped once per session by
 *     the batch's row count; the row lock that UPDATE takes orders concurrent writers
 *     and re-reads `owner_epoch`, so fencing is checked against the committed owner;
 *   - an unknown session gets no allocation and no insert (`no_session`, never an FK
 *     violation); a stale epoch gets no insert (`fenced`); a player input for a session
 *     whose story has ended gets no insert (`ended`: it could never be answered);
 *   - a row whose dedupe key is already stored is skipped by `ON CONFLICT DO NOTHING`
 *     on the key's unique index; only then (a retransmission, rare) a second statement
 *     fetches the stored rows (`duplicate`). The skipped row leaves a gap in
 *     narrative_ts, which is allowed. No ledger lookup is on the happy path, so no plan
 *     can turn it into a scan of the (growing) ledger.
 * Ids (BIGSERIAL) and narrative_ts follow the batch order within each session.
 */
export type AppendStatus = 'inserted' | 'duplicate' | 'no_session' | 'fenced' | 'conflict' | 'ended';

export interface AppendRow {
  sessionId: string;
  sceneId: string | null;
  turn: number | null;
  eventType: string;
  /** Serialised event data (JSON text). */
  json: string;
  confidence: number | null;
  source: string;
  clientInputId: string | null;
  inputId: number | null;
  idempotencyKey: string | null;
  /** Fencing: the row is written only if sessions.owner_epoch equals it. */
  epoch: number | null;
}

export interface AppendOutcome {
  status: AppendStatus;
  /** The stored row (new or original) for `inserted`/`duplicate`; null otherwise. */
  row: Record<string, unknown> | null;
  /** The session's current owner_epoch, when known (for fencing errors). */
  ownerEpoch: number | null;
}

/** Which partial unique index dedupes the batch: player inputs or effect events. */
export type DedupeKey = 'client_input_id' | 'idempotency_key';

function buildSql(key: DedupeKey): string {
  return `WITH input AS (
  SELECT * FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[], $7::real[], $8::text[],
                       $9::text[], $10::bigint[], $11::text[], $12::bigint[])
    AS t(ord, session_id, scene_id, turn, event_type, event_data, confidence, source,
         client_input_id, input_id, idempotency_key, epoch)
),
counts AS (
  SELECT session_id, count(*)::bigint AS n FROM input GROUP BY session_id
),
-- Lock the sessions in id order first: two writers (the input and event paths, or two
-- engines) with overlapping sessions then queue behind each other instead of deadlocking.
locked AS (
  SELECT s.id FROM sessions s WHERE s.id = ANY (ARRAY(SELECT session_id FROM counts)) ORDER BY s.id FOR UPDATE
),
alloc AS (
  UPDATE sessions s SET last_narrative_ts = s.last_narrative_ts + c.n
  FROM counts c JOIN locked l ON l.id = c.session_id
  WHERE s.id = c.session_id
  RETURNING s.id AS session_id, s.last_narrative_ts - c.n AS base, s.owner_epoch, s.status = 'ended' AS ended, s.created_at AS session_started_at
),
planned AS (
  SELECT i.*, a.base + row_number() OVER (PARTITION BY i.session_id ORDER BY i.ord) AS narrative_ts, a.owner_epoch, a.ended, a.session_started_at
  FROM input i JOIN alloc a ON a.session_id = i.session_id
),
ins AS (
  INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, confidence, source, narrative_ts,
                            client_input_id, input_id, idempotency_key, session_started_at)
  SELECT p.session_id, p.scene_id, p.turn, p.event_type, p.event_data::jsonb, p.confidence, p.source, p.narrative_ts,
         p.client_input_id, p.input_id, p.idempotency_key, p.session_started_at
  FROM planned p
  WHERE (p.epoch IS NULL OR p.epoch = p.owner_epoch)${key === 'client_input_id' ? ' AND NOT p.ended' : ''}
  ORDER BY p.ord
  ON CONFLICT (session_id, ${key}, session_started_at) WHERE ${key} IS NOT NULL DO NOTHING
  RETURNING id, session_id, narrative_ts, created_at
)
SELECT i.ord, a.owner_epoch, a.ended, n.id, n.narrative_ts, n.created_at
FROM input i
LEFT JOIN alloc a ON a.session_id = i.session_id
LEFT JOIN planned p ON p.ord = i.ord
LEFT JOIN ins n ON n.session_id = p.session_id AND n.narrative_ts = p.narrative_ts
ORDER BY i.ord`;
}

/**
 * The same logic for exactly one row, with scalar parameters: no unnest, no window.
 * A lone caller (one client, no contention) is the latency-critical case, and this
 * shape runs in about the time of a plain INSERT.
 */
function buildSingleRowSql(key: DedupeKey): string {
  return `WITH alloc AS (
  UPDATE sessions SET last_narrative_ts = last_narrative_ts + 1
  WHERE id = $1::uuid
  RETURNING last_narrative_ts, owner_epoch, status = 'ended' AS ended, created_at AS session_started_at
),
ins AS (
  INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, confidence, source, narrative_ts,
                            client_input_id, input_id, idempotency_key, session_started_at)
  SELECT $1::uuid, $2::uuid, $3::int, $4::text, $5::jsonb, $6::real, $7::text, a.last_narrative_ts, $9::text, $10::bigint, $11::text,
         a.session_started_at
  FROM alloc a
  WHERE ($8::bigint IS NULL OR a.owner_epoch = $8::bigint)${key === 'client_input_id' ? ' AND NOT a.ended' : ''}
  ON CONFLICT (session_id, ${key}, session_started_at) WHERE ${key} IS NOT NULL DO NOTHING
  RETURNING id, narrative_ts, created_at
)
SELECT 0 AS ord, a.owner_epoch, a.ended, n.id, n.narrative_ts, n.created_at
FROM (SELECT 1) AS one
LEFT JOIN alloc a ON true
LEFT JOIN ins n ON true`;
}

/**
 * The stored rows for keys that conflicted: one unique-index probe each. The archive is
 * looked at too (after the live table): an ended session's archived input still answers a
 * retransmission with its original row (docs/ledger-retention.md).
 */
function buildLookupSql(key: DedupeKey): string {
  return `SELECT k.ord, ${LEDGER_COLUMNS.map((c) => `l.${c}`).join(', ')}
FROM unnest($1::int[], $2::uuid[], $3::text[]) AS k(ord, session_id, key)
CROSS JOIN LATERAL (
  SELECT * FROM (
    SELECT 0 AS src, ${LEDGER_COLUMNS.join(', ')} FROM event_ledger e WHERE e.session_id = k.session_id AND e.${key} = k.key
    UNION ALL
    SELECT 1 AS src, ${LEDGER_COLUMNS.join(', ')} FROM event_ledger_archive e WHERE e.session_id = k.session_id AND e.${key} = k.key
  ) found ORDER BY src LIMIT 1
) l`;
}

const SQL: Record<DedupeKey, { one: string; many: string; lookup: string }> = {
  client_input_id: { one: buildSingleRowSql('client_input_id'), many: buildSql('client_input_id'), lookup: buildLookupSql('client_input_id') },
  idempotency_key: { one: buildSingleRowSql('idempotency_key'), many: buildSql('idempotency_key'), lookup: buildLookupSql('idempotency_key') },
};

interface OutcomeRow {
  ord: number;
  owner_epoch: number | null;
  ended: boolean | null;
  id: number | null;
  narrative_ts: number | null;
  created_at: Date | null;
}

/** The stored row of an inserted AppendRow: only id, narrative_ts and created_at come back from the database. */
function storedRow(r: AppendRow, o: OutcomeRow): Record<string, unknown> {
  return {
    id: o.id,
    session_id: r.sessionId,
    scene_id: r.sceneId,
    turn: r.turn,
    event_type: r.eventType,
    event_data: JSON.parse(r.json) as unknown,
    // As the REAL column holds it, so a returned record equals the same row read back.
    confidence: r.confidence === null ? null : Math.fround(r.confidence),
    source: r.source,
    created_at: o.created_at,
    narrative_ts: o.narrative_ts,
    client_input_id: r.clientInputId,
    input_id: r.inputId,
    idempotency_key: r.idempotencyKey,
  };
}

function statusOf(r: AppendRow, o: OutcomeRow): AppendStatus {
  if (o.id !== null) return 'inserted';
  if (o.owner_epoch === null) return 'no_session';
  if (r.epoch !== null && r.epoch !== o.owner_epoch) return 'fenced';
  // Ended: a retransmission of an input stored before the end still finds its row below.
  if (o.ended === true && r.clientInputId !== null) return 'ended';
  return 'conflict';
}

/**
 * Appends `rows` in one statement; outcomes come back in the same order.
 * Rows of one session must appear in the order they are to be numbered; a dedupe key
 * must not repeat inside one batch (the caller folds repeats onto the first).
 * @example const [o] = await appendRows(db, [row], 'client_input_id'); if (o.status === 'inserted') …
 */
export async function appendRows(q: Queryable, rows: readonly AppendRow[], key: DedupeKey): Promise<AppendOutcome[]> {
  const single = rows.length === 1 ? rows[0] : undefined;
  const result = single
    ? await q.query<OutcomeRow>(
        SQL[key].one,
        [single.sessionId, single.sceneId, single.turn, single.eventType, single.json, single.confidence, single.source, single.epoch,
          single.clientInputId, single.inputId, single.idempotencyKey],
        { name: `ledger_append_one_${key}` },
      )
    : await q.query<OutcomeRow>(SQL[key].many, batchParams(rows), { name: `ledger_append_many_${key}` });
  const outcomes: AppendOutcome[] = rows.map(() => ({ status: 'conflict', row: null, ownerEpoch: null }));
  for (const o of result.rows) {
    const r = rows[o.ord]!;
    const status = statusOf(r, o);
    outcomes[o.ord] = { status, row: status === 'inserted' ? storedRow(r, o) : null, ownerEpoch: o.owner_epoch };
  }
  // Skipped by ON CONFLICT: a retransmission of a stored row (or a race another writer won).
  const skipped = outcomes.flatMap((o, i) => (o.status === 'conflict' || o.status === 'ended' ? [i] : []));
  if (skipped.length > 0) {
    const found = await q.query<{ ord: number } & Record<string, unknown>>(SQL[key].lookup, [
      skipped,
      skipped.map((i) => rows[i]!.sessionId),
      skipped.map((i) => (key === 'client_input_id' ? rows[i]!.clientInputId : rows[i]!.idempotencyKey)),
    ]);
    for (const { ord, ...row } of found.rows) outcomes[ord] = { status: 'duplicate', row, ownerEpoch: outcomes[ord]!.ownerEpoch };
  }
  return outcomes;
}

function batchParams(rows: readonly AppendRow[]): unknown[] {
  return [
    rows.map((_, i) => i),
    rows.map((r) => r.sessionId),
    rows.map((r) => r.sceneId),
    rows.map((r) => r.turn),
    rows.map((r) => r.eventType),
    rows.map((r) => r.json),
    rows.map((r) => r.confidence),
    rows.map((r) => r.source),
    rows.map((r) => r.clientInputId),
    rows.map((r) => r.inputId),
    rows.map((r) => r.idempotencyKey),
    rows.map((r) => r.epoch),
  ];
}
