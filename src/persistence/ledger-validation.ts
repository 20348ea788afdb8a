import { z } from 'zod';
import { EVENT_DATA_SCHEMAS, isEventType, playerInputData, type NewEvent } from '../domain/events.ts';
import { StorytellerError } from '../errors.ts';

/**
 * Bad input stops at the ledger's door, before anything is queued or written:
 * unknown event types, payloads failing their zod schema and oversized payloads
 * each get their own stable error code (the zod path travels in `details.path`).
 */

export const sessionIdSchema = z.guid();

const envelopeSchema = z.object({
  type: z.string(),
  data: z.unknown(),
  source: z.string().min(1).max(200),
  sceneId: z.guid().nullable().optional(),
  turn: z.number().int().nonnegative().nullable().optional(),
  confidence: z.number().min(0).max(1).nullable().optional(),
  inputId: z.number().int().positive().nullable().optional(),
  idempotencyKey: z.string().min(1).max(300).nullable().optional(),
});

function invalid(message: string, issues: readonly z.core.$ZodIssue[], extra: Record<string, unknown> = {}): StorytellerError {
  const first = issues[0];
  return new StorytellerError('LEDGER_PAYLOAD_INVALID', `${message}${first ? ` at ${first.path.join('.') || '(root)'}: ${first.message}` : ''}`, {
    details: { ...extra, path: first?.path ?? [], issues: issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

const ESCAPED_NUL = /(?<!\\)(?:\\\\)*\\u0000/;

/**
 * Serialises a payload once, measuring it and refusing what PostgreSQL cannot store
 * (NUL characters in text or JSONB, cycles, BigInt): those would otherwise fail a
 * whole batch inside the database.
 */
export function serialisePayload(data: unknown, maxPayloadBytes: number, what: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new StorytellerError('LEDGER_PAYLOAD_INVALID', `${what} payload is not serialisable JSON: ${(error as Error).message}`, { cause: error });
  }
  if (json === undefined) throw new StorytellerError('LEDGER_PAYLOAD_INVALID', `${what} payload is missing`, { details: { path: [] } });
  // PostgreSQL's jsonb refuses U+0000; JSON.stringify writes it as \u0000, which an odd run
  // of backslashes before "u0000" tells apart from a string that spells the six characters.
  if (json.includes('\\u0000') && ESCAPED_NUL.test(json)) throw new StorytellerError('LEDGER_PAYLOAD_INVALID', `${what} payload contains a NUL character`, { details: { path: [] } });
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxPayloadBytes) {
    throw new StorytellerError('LEDGER_PAYLOAD_TOO_LARGE', `${what} payload is ${bytes} bytes, limit ${maxPayloadBytes}`, {
      details: { bytes, limit: maxPayloadBytes },
    });
  }
  return json;
}

/**
 * Validates one event (type known, envelope and data pass their zod schemas, serialised
 * data ≤ `maxPayloadBytes`) and returns it normalised: schema defaults applied, the
 * judgment's confidence and the TurnCompleted's inputId mirrored into their columns.
 * @throws StorytellerError LEDGER_EVENT_TYPE_UNKNOWN | LEDGER_PAYLOAD_INVALID | LEDGER_PAYLOAD_TOO_LARGE
 * @example validateEvent({ type: 'GoalCompleted', data: { goalId: 'g1' }, source: 'storykeeper' }, 65536);
 */
export function validateEvent(e: NewEvent, maxPayloadBytes: number): NewEvent {
  // Already the output of validateEvent (the session's storage validates before the ledger does).
  if (validated.has(e)) return e;
  const type = (e as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !isEventType(type)) {
    throw new StorytellerError('LEDGER_EVENT_TYPE_UNKNOWN', `unknown ledger event type ${JSON.stringify(type ?? null)}`, {
      details: { type: typeof type === 'string' ? type : null },
    });
  }
  const envelope = envelopeSchema.safeParse(e);
  if (!envelope.success) throw invalid(`${type} event envelope is invalid`, envelope.error.issues, { type });
  // Size first: an oversized payload is refused without walking it through the schema.
  serialisePayload(envelope.data.data, maxPayloadBytes, type);
  const data = EVENT_DATA_SCHEMAS[type].safeParse(envelope.data.data);
  if (!data.success) {
    const issues = data.error.issues.map((i) => ({ ...i, path: ['data', ...i.path] }));
    throw invalid(`${type} payload fails its schema`, issues, { type });
  }
  const parsed = data.data as Record<string, unknown>;
  const normalised = {
    type,
    data: parsed,
    source: envelope.data.source,
    sceneId: envelope.data.sceneId ?? null,
    turn: envelope.data.turn ?? null,
    confidence: columnConfidence(envelope.data.confidence ?? (type === 'InterpretiveJudgment' ? (parsed.confidence as number) : null)),
    inputId: envelope.data.inputId ?? (type === 'TurnCompleted' ? (parsed.inputId as number) : null),
    idempotencyKey: envelope.data.idempotencyKey ?? null,
  };
  validated.add(normalised);
  return normalised as NewEvent;
}

/** Events validateEvent returned (never mutated afterwards): validating one again is a no-op. */
const validated = new WeakSet<object>();

export interface ValidInput {
  sessionId: string;
  clientInputId: string;
  text: string;
  sceneId: string | null;
  turn: number | null;
  epoch: number | null;
  /** The serialised PlayerInput payload. */
  json: string;
}

const inputRequestSchema = z.object({
  sessionId: z.string(),
  clientInputId: z.string(),
  text: z.string(),
  sceneId: z.guid().nullable(),
  turn: z.number().int().nonnegative().nullable(),
  epoch: z.number().int().nonnegative().optional(),
});

/**
 * Validates an appendInput request; an unknown-format session id is SESSION_NOT_FOUND.
 * @throws StorytellerError SESSION_NOT_FOUND | LEDGER_PAYLOAD_INVALID | LEDGER_PAYLOAD_TOO_LARGE
 */
export function validateInput(req: unknown, maxPayloadBytes: number): ValidInput {
  const envelope = inputRequestSchema.safeParse(req);
  if (!envelope.success) throw invalid('PlayerInput request is invalid', envelope.error.issues, { type: 'PlayerInput' });
  const r = envelope.data;
  if (!sessionIdSchema.safeParse(r.sessionId).success) {
    throw new StorytellerError('SESSION_NOT_FOUND', `no session ${JSON.stringify(r.sessionId)}`, { details: { sessionId: r.sessionId } });
  }
  const data = playerInputData.safeParse({ clientInputId: r.clientInputId, text: r.text });
  if (!data.success) {
    throw invalid('PlayerInput payload fails its schema', data.error.issues.map((i) => ({ ...i, path: ['data', ...i.path] })), { type: 'PlayerInput' });
  }
  const json = serialisePayload(data.data, maxPayloadBytes, 'PlayerInput');
  return { sessionId: r.sessionId, clientInputId: r.clientInputId, text: r.text, sceneId: r.sceneId, turn: r.turn, epoch: r.epoch ?? null, json };
}

/**
 * The `confidence` column is a REAL mirror of the judgment's confidence. PostgreSQL refuses
 * float4 underflow (e.g. 6.1e-240 is "out of range for type real"), which would fail a whole
 * batch; six decimals is more than a REAL keeps, and the JSON payload keeps the exact value.
 */
function columnConfidence(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1e6) / 1e6;
}
