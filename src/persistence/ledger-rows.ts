import { z } from 'zod';
import { EVENT_DATA_SCHEMAS, isEventType, type LedgerRecord } from '../domain/events.ts';
import { StorytellerError } from '../errors.ts';

/**
 * The `event_ledger` row as the drivers hand it back (BIGINT already a number on both),
 * and its conversion into a validated `LedgerRecord`. Every read path goes through
 * `rowToRecord`: JSON read back from the database is a boundary like any other.
 */
export const LEDGER_COLUMNS = [
  'id',
  'session_id',
  'scene_id',
  'turn',
  'event_type',
  'event_data',
  'confidence',
  'source',
  'created_at',
  'narrative_ts',
  'client_input_id',
  'input_id',
  'idempotency_key',
] as const;

/** `SELECT` list for the ledger columns, optionally qualified by a table alias. */
export function ledgerColumnList(alias?: string): string {
  return LEDGER_COLUMNS.map((c) => (alias ? `${alias}.${c}` : c)).join(', ');
}

// Any UUID-shaped value: the column type already guarantees the format.
const uuid = z.guid();

export const ledgerRowSchema = z.object({
  id: z.number().int().positive(),
  session_id: uuid,
  scene_id: uuid.nullable(),
  turn: z.number().int().nullable(),
  event_type: z.string(),
  event_data: z.unknown(),
  confidence: z.number().nullable(),
  source: z.string(),
  created_at: z.date(),
  narrative_ts: z.number().int().nonnegative(),
  client_input_id: z.string().nullable(),
  input_id: z.number().int().nullable(),
  idempotency_key: z.string().nullable(),
});
export type LedgerRow = z.infer<typeof ledgerRowSchema>;

/**
 * Validates one stored row and its payload against the event's schema.
 * @throws StorytellerError STORED_DATA_INVALID naming the row id and the failing path.
 * @example const records = rows.map(rowToRecord);
 */
export function rowToRecord(raw: unknown): LedgerRecord {
  const row = ledgerRowSchema.safeParse(raw);
  if (!row.success) {
    throw new StorytellerError('STORED_DATA_INVALID', `ledger row fails its schema: ${row.error.issues[0]?.message ?? 'invalid'}`, {
      details: { id: (raw as { id?: unknown } | null)?.id, issues: row.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  const r = row.data;
  if (!isEventType(r.event_type)) {
    throw new StorytellerError('STORED_DATA_INVALID', `ledger row ${r.id} has unknown event type ${r.event_type}`, {
      details: { id: r.id, eventType: r.event_type },
    });
  }
  const data = EVENT_DATA_SCHEMAS[r.event_type].safeParse(r.event_data);
  if (!data.success) {
    const issue = data.error.issues[0];
    throw new StorytellerError('STORED_DATA_INVALID', `ledger row ${r.id} (${r.event_type}) payload fails its schema at ${issue?.path.join('.') ?? ''}`, {
      details: { id: r.id, eventType: r.event_type, path: issue?.path ?? [], issues: data.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return {
    type: r.event_type,
    data: data.data,
    source: r.source,
    sceneId: r.scene_id,
    turn: r.turn,
    // REAL column: read back as the nearest short decimal (0.7, not 0.699999988).
    confidence: r.confidence === null ? null : Number(r.confidence.toPrecision(7)),
    inputId: r.input_id,
    idempotencyKey: r.idempotency_key,
    id: r.id,
    sessionId: r.session_id,
    narrativeTs: r.narrative_ts,
    createdAt: r.created_at,
    clientInputId: r.client_input_id,
  } as LedgerRecord;
}
