import type { Registry } from 'prom-client';
import type { EventType, LedgerRecord, NewEvent } from '../domain/events.ts';
import { isStorytellerError, StorytellerError } from '../errors.ts';
import { moduleLogger, silentLogger, type Logger } from '../logger.ts';
import type { Database, Queryable } from './database.ts';
import { DEFAULT_RETRY, EventWriter, type RetryPolicy, type UnwrittenEvents } from './event-writer.ts';
import { GroupCommitter, type BatchResult, type GroupCommitStats } from './group-commit.ts';
import { appendRows, type AppendOutcome, type AppendRow } from './ledger-append.ts';
import { createLedgerMetrics, measured, type LedgerMetrics } from './ledger-metrics.ts';
import { ledgerColumnList, rowToRecord } from './ledger-rows.ts';
import { sessionIdSchema, serialisePayload, validateEvent, validateInput, type ValidInput } from './ledger-validation.ts';

export { validateEvent } from './ledger-validation.ts';
export type { RetryPolicy, UnwrittenEvents } from './event-writer.ts';

/**
 * The event ledger: the append-only source of truth of every session (seed:
 * "Durability Model"). Player input is written synchronously and group-committed;
 * the turn's effects are written asynchronously in batches; reads validate every row.
 * See docs/persistence.md for the semantics in full.
 *
 * @example
 *   const ledger = new Ledger(db, { maxPayloadBytes: 65536, maxBatch: 512, flushMs: 20 });
 *   const { id, narrativeTs } = await ledger.appendInput({ sessionId, clientInputId: 'c-1', text: 'look', sceneId, turn: 3 });
 *   void ledger.appendEvents(sessionId, [event('TurnCompleted', { inputId: id, turn: 3, degraded: [] }, { source: 'engine' })]);
 *   await ledger.flush(sessionId);
 */
export interface LedgerOptions {
  maxPayloadBytes: number;
  maxBatch: number;
  flushMs: number;
  logger?: Logger;
  /** Retries of a failed asynchronous event batch (default 5 attempts, 25 ms doubling, capped at 2 s). */
  retry?: Partial<RetryPolicy>;
  /** Prometheus registry for the ledger's metrics (see ledger-metrics.ts); none when absent. */
  registry?: Registry;
}

export interface AppendInputRequest {
  sessionId: string;
  clientInputId: string;
  text: string;
  sceneId: string | null;
  turn: number | null;
  /** Ownership fencing (roadmap): when given, the append fails with LEDGER_FENCED unless sessions.owner_epoch equals it. */
  epoch?: number;
}

export interface AppendedInput {
  id: number;
  narrativeTs: number;
  duplicate: boolean;
  record: LedgerRecord;
}

export interface AppendEventsOptions {
  /** Ownership fencing, as for appendInput. */
  epoch?: number;
}

/** Ledger options from the validated configuration. */
export function ledgerOptionsFromConfig(config: { ledger: { maxPayloadBytes: number; maxBatch: number; eventFlushMs: number } }, logger?: Logger): LedgerOptions {
  return { maxPayloadBytes: config.ledger.maxPayloadBytes, maxBatch: config.ledger.maxBatch, flushMs: config.ledger.eventFlushMs, ...(logger ? { logger } : {}) };
}

function inputRow(input: ValidInput): AppendRow {
  return {
    sessionId: input.sessionId,
    sceneId: input.sceneId,
    turn: input.turn,
    eventType: 'PlayerInput',
    json: input.json,
    confidence: null,
    source: 'player',
    clientInputId: input.clientInputId,
    inputId: null,
    idempotencyKey: null,
    epoch: input.epoch,
  };
}

function isConnectionFailure(error: unknown): boolean {
  return isStorytellerError(error, 'STORAGE_UNAVAILABLE');
}

export class Ledger {
  readonly #db: Database;
  readonly #options: LedgerOptions;
  readonly #logger: Logger;
  readonly #inputs: GroupCommitter<ValidInput, AppendedInput>;
  readonly #events: EventWriter;
  readonly #writeInputRows: (rows: readonly AppendRow[]) => Promise<AppendOutcome[]>;
  #closed = false;

  constructor(db: Database, options: LedgerOptions) {
    this.#db = db;
    this.#options = options;
    this.#logger = moduleLogger(options.logger ?? silentLogger, 'persistence');
    const metrics: LedgerMetrics | undefined = options.registry
      ? createLedgerMetrics(options.registry, () => ({ input: this.#inputs.queued, events: this.#events.backlogRows }))
      : undefined;
    const waited = (path: 'input' | 'events') => (metrics ? (waits: number[]) => waits.forEach((ms) => metrics.commitWaitSeconds.observe({ path }, ms / 1000)) : undefined);
    this.#writeInputRows = measured(metrics, 'input', (rows: readonly AppendRow[]) => appendRows(this.#db, rows, 'client_input_id'));
    this.#inputs = new GroupCommitter((batch) => this.#writeInputs(batch), options.maxBatch, waited('input'));
    this.#events = new EventWriter({
      maxBatch: options.maxBatch,
      flushMs: options.flushMs,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      logger: this.#logger,
      write: measured(metrics, 'events', (rows: readonly AppendRow[]) => appendRows(this.#db, rows, 'idempotency_key')),
      ...(metrics ? { onRetry: () => metrics.eventRetries.inc(), onBatch: waited('events') } : {}),
    });
  }

  /** Group-commit counters of the input path (batches written, requests answered, largest batch). */
  get inputStats(): Readonly<GroupCommitStats> {
    return this.#inputs.stats;
  }

  /**
   * Durable (group-committed) PlayerInput; resolves only after COMMIT. Repeat clientInputId → original row, duplicate: true.
   * @throws StorytellerError SESSION_NOT_FOUND | LEDGER_FENCED | LEDGER_PAYLOAD_INVALID | LEDGER_PAYLOAD_TOO_LARGE |
   *         LEDGER_WRITE_FAILED | STORAGE_UNAVAILABLE (outcome unknown: retransmit with the same clientInputId)
   */
  appendInput(req: AppendInputRequest): Promise<AppendedInput> {
    if (this.#closed) return Promise.reject(new StorytellerError('ENGINE_SHUTTING_DOWN', 'the ledger is closed'));
    let input: ValidInput;
    try {
      input = validateInput(req, this.#options.maxPayloadBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#inputs.submit(input);
  }

  /**
   * Validates synchronously (throws typed error, nothing queued), then queues for the batched async writer.
   * The promise resolves when these rows are durable (callers may ignore it; failures are retried, then logged + surfaced via flush()).
   * A batch with one invalid event is refused whole.
   */
  appendEvents(sessionId: string, events: NewEvent[], options: AppendEventsOptions = {}): Promise<LedgerRecord[]> {
    const { valid, rows } = this.#eventRows(sessionId, events, options);
    if (rows.length === 0) return Promise.resolve([]);
    return this.#events.enqueue(sessionId, valid, rows);
  }

  /** Validates a whole batch (the first bad event throws, nothing is written) and builds its rows. */
  #eventRows(sessionId: string, events: NewEvent[], options: AppendEventsOptions): { valid: NewEvent[]; rows: AppendRow[] } {
    if (!sessionIdSchema.safeParse(sessionId).success) {
      throw new StorytellerError('SESSION_NOT_FOUND', `no session ${JSON.stringify(sessionId)}`, { details: { sessionId } });
    }
    const valid = events.map((e, index) => {
      try {
        return validateEvent(e, this.#options.maxPayloadBytes);
      } catch (error) {
        if (isStorytellerError(error) && error.details) Object.assign(error.details as Record<string, unknown>, { index });
        throw error;
      }
    });
    const epoch = options.epoch ?? null;
    return { valid, rows: valid.map((e) => ({
      sessionId,
      sceneId: e.sceneId ?? null,
      turn: e.turn ?? null,
      eventType: e.type,
      json: serialisePayload(e.data, this.#options.maxPayloadBytes, e.type),
      confidence: e.confidence ?? null,
      source: e.source,
      clientInputId: null,
      inputId: e.inputId ?? null,
      idempotencyKey: e.idempotencyKey ?? null,
      epoch,
    })) };
  }

  /**
   * Writes events synchronously through `q` — typically inside the scene-exit transaction, so
   * `SceneExited` commits (or rolls back) with the checkpoint and the outbox row. Nothing is
   * queued; idempotency keys dedupe as in appendEvents. Call `flush(sessionId)` first so the
   * queued events of the session keep their narrative order. Keep such transactions short:
   * the session's row stays locked until they end, holding up that session's appends.
   * (PGlite: pass the transaction's Queryable, never await the ledger's own writes inside it.)
   * @throws StorytellerError like appendEvents, plus SESSION_NOT_FOUND / LEDGER_FENCED / LEDGER_WRITE_FAILED.
   * @example await db.transaction(async (tx) => { await ledger.writeEvents(tx, id, [exited]); await writeCheckpoint(tx, cp); });
   */
  async writeEvents(q: Queryable, sessionId: string, events: NewEvent[], options: AppendEventsOptions = {}): Promise<LedgerRecord[]> {
    const { rows } = this.#eventRows(sessionId, events, options);
    if (rows.length === 0) return [];
    const outcomes = await appendRows(q, rows, 'idempotency_key');
    return outcomes.map((o, i) => {
      if (o.status === 'inserted' || o.status === 'duplicate') return rowToRecord(o.row);
      if (o.status === 'no_session') throw new StorytellerError('SESSION_NOT_FOUND', `no session ${sessionId}`, { details: { sessionId } });
      if (o.status === 'fenced') {
        throw new StorytellerError('LEDGER_FENCED', `session ${sessionId} is owned by epoch ${o.ownerEpoch}`, {
          details: { sessionId, epoch: options.epoch, ownerEpoch: o.ownerEpoch },
        });
      }
      throw new StorytellerError('LEDGER_WRITE_FAILED', `event ${i} lost a concurrent write race on its idempotency key`, { details: { sessionId, index: i } });
    });
  }

  /**
   * Writes everything queued (for one session or all) and resolves when durable; rejects if a
   * batch ultimately failed. `ownerEpoch`: leave out an older owner's queued writes (EventWriter.flush).
   */
  flush(sessionId?: string, ownerEpoch?: number): Promise<void> {
    return this.#events.flush(sessionId, ownerEpoch);
  }

  /** Events accepted by appendEvents and not yet durable. */
  pendingEvents(sessionId?: string): UnwrittenEvents[] {
    return this.#events.pending(sessionId);
  }

  /** Durable rows after `afterNarrativeTs`, ordered by narrative_ts (queued events appear after flush()). */
  eventsSince(sessionId: string, afterNarrativeTs: number): Promise<LedgerRecord[]> {
    // The history view (live + archived rows): After / Since / Sequence read from the first row,
    // and rows moved by `storyteller ledger archive` must still answer them (docs/ledger-retention.md).
    return this.#select('session_id = $1 AND narrative_ts > $2', [sessionId, afterNarrativeTs], 'event_ledger_history');
  }

  eventsByType(sessionId: string, type: EventType): Promise<LedgerRecord[]> {
    return this.#select('session_id = $1 AND event_type = $2', [sessionId, type]);
  }

  eventsByScene(sessionId: string, sceneId: string): Promise<LedgerRecord[]> {
    if (!sessionIdSchema.safeParse(sceneId).success) return Promise.resolve([]);
    return this.#select('session_id = $1 AND scene_id = $2', [sessionId, sceneId]);
  }

  /** PlayerInputs after `afterNarrativeTs` with no TurnCompleted whose data.inputId = their id (crash replay). */
  unansweredInputs(sessionId: string, afterNarrativeTs: number): Promise<LedgerRecord[]> {
    return this.#select(
      `session_id = $1 AND event_type = 'PlayerInput' AND narrative_ts > $2
       AND NOT EXISTS (
         SELECT 1 FROM event_ledger t
         WHERE t.session_id = l.session_id AND t.event_type = 'TurnCompleted'
           AND (t.input_id = l.id OR (t.event_data->>'inputId')::bigint = l.id))`,
      [sessionId, afterNarrativeTs],
    );
  }

  /** Flushes the event writer, waits for in-flight inputs, stops timers. Does not close the database. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.#events.close();
    } finally {
      await this.#inputs.whenIdle();
    }
  }

  async #select(where: string, params: unknown[], table: 'event_ledger' | 'event_ledger_history' = 'event_ledger'): Promise<LedgerRecord[]> {
    if (!sessionIdSchema.safeParse(params[0]).success) return [];
    // The partition key of every row of the session (migration 0007): a no-op filter that lets
    // PostgreSQL prune to the session's one partition at execution time.
    const { rows } = await this.#db.query(
      `SELECT ${ledgerColumnList('l')} FROM ${table} l WHERE ${where} AND l.session_started_at = (SELECT created_at FROM sessions WHERE id = $1) ORDER BY l.narrative_ts`,
      params,
    );
    return rows.map(rowToRecord);
  }

  /** One group-commit round: one statement for the whole batch, per-row outcomes. */
  async #writeInputs(batch: readonly ValidInput[]): Promise<BatchResult<AppendedInput>[]> {
    // A retransmission arriving together with its original folds onto it.
    const unique: ValidInput[] = [];
    const firstIndex = new Map<string, number>();
    const slots = batch.map((input) => {
      const key = `${input.sessionId}\u0000${input.clientInputId}`;
      const seen = firstIndex.get(key);
      if (seen !== undefined) return { slot: seen, repeat: true };
      unique.push(input);
      firstIndex.set(key, unique.length - 1);
      return { slot: unique.length - 1, repeat: false };
    });
    let outcomes: BatchResult<AppendOutcome>[];
    try {
      const written = await this.#writeInputRows(unique.map(inputRow));
      outcomes = written.map((value) => ({ ok: true, value }));
    } catch (error) {
      outcomes = isConnectionFailure(error) ? await this.#resolveUnknown(unique, error) : await this.#isolate(unique, error);
    }
    const results: BatchResult<AppendedInput>[] = [];
    for (let i = 0; i < unique.length; i += 1) {
      const outcome = outcomes[i]!;
      if (outcome.ok && outcome.value.status === 'conflict') outcomes[i] = await this.#writeAlone(unique[i]!);
    }
    const answers = unique.map((input, i) => this.#answer(input, outcomes[i]!));
    for (const { slot, repeat } of slots) {
      const answer = answers[slot]!;
      results.push(repeat && answer.ok ? { ok: true, value: { ...answer.value, duplicate: true } } : answer);
    }
    return results;
  }

  /**
   * The connection dropped during the statement: it may have committed or not. Each input
   * is looked up by (session_id, client_input_id) on a fresh connection: found, it was
   * written (its original row is the answer); absent, it was not (STORAGE_UNAVAILABLE:
   * the client retransmits with the same clientInputId). If the lookup fails too, the
   * outcome stays unknown and the same retransmission resolves it later.
   */
  async #resolveUnknown(inputs: ValidInput[], error: unknown): Promise<BatchResult<AppendOutcome>[]> {
    this.#logger.warn({ err: error, batch: inputs.length, code: 'STORAGE_UNAVAILABLE' }, 'ledger input batch outcome unknown; resolving by client_input_id');
    try {
      const { rows } = await this.#db.query<Record<string, unknown> & { ord: number }>(
        `SELECT k.ord, ${ledgerColumnList('l')}
           FROM unnest($1::int[], $2::uuid[], $3::text[]) AS k(ord, session_id, client_input_id)
           JOIN event_ledger l ON l.session_id = k.session_id AND l.client_input_id = k.client_input_id`,
        [inputs.map((_, i) => i), inputs.map((i) => i.sessionId), inputs.map((i) => i.clientInputId)],
      );
      const found = new Map(rows.map(({ ord, ...row }) => [Number(ord), row]));
      return inputs.map((_, i) => {
        const row = found.get(i);
        return row ? { ok: true, value: { status: 'inserted', row, ownerEpoch: null } } : { ok: false, error };
      });
    } catch {
      return inputs.map(() => ({ ok: false, error }));
    }
  }

  /**
   * The batch statement raised: find the bad rows by writing each alone, in order,
   * so only they fail.
   */
  async #isolate(inputs: ValidInput[], error: unknown): Promise<BatchResult<AppendOutcome>[]> {
    if (inputs.length === 1) return inputs.map(() => ({ ok: false, error }));
    this.#logger.warn({ err: error, batch: inputs.length }, 'ledger input batch failed; writing rows one by one');
    const outcomes: BatchResult<AppendOutcome>[] = [];
    for (const input of inputs) outcomes.push(await this.#writeAlone(input));
    return outcomes;
  }

  async #writeAlone(input: ValidInput): Promise<BatchResult<AppendOutcome>> {
    try {
      const [value] = await this.#writeInputRows([inputRow(input)]);
      return { ok: true, value: value! };
    } catch (error) {
      return { ok: false, error };
    }
  }

  #answer(input: ValidInput, outcome: BatchResult<AppendOutcome>): BatchResult<AppendedInput> {
    if (!outcome.ok) {
      const error = outcome.error;
      if (isStorytellerError(error)) return { ok: false, error };
      return {
        ok: false,
        error: new StorytellerError('LEDGER_WRITE_FAILED', `player input not written: ${(error as Error).message}`, {
          cause: error,
          details: { sessionId: input.sessionId, clientInputId: input.clientInputId },
        }),
      };
    }
    const { status, row, ownerEpoch } = outcome.value;
    switch (status) {
      case 'inserted':
      case 'duplicate': {
        try {
          const record = rowToRecord(row);
          return { ok: true, value: { id: record.id, narrativeTs: record.narrativeTs, duplicate: status === 'duplicate', record } };
        } catch (error) {
          return { ok: false, error };
        }
      }
      case 'no_session':
        return { ok: false, error: new StorytellerError('SESSION_NOT_FOUND', `no session ${input.sessionId}`, { details: { sessionId: input.sessionId } }) };
      case 'fenced':
        return {
          ok: false,
          error: new StorytellerError('LEDGER_FENCED', `session ${input.sessionId} is owned by epoch ${ownerEpoch}, not ${input.epoch}`, {
            details: { sessionId: input.sessionId, epoch: input.epoch, ownerEpoch },
          }),
        };
      case 'ended':
        return { ok: false, error: new StorytellerError('SESSION_NOT_PLAYING', `the story of session ${input.sessionId} has ended`, { details: { sessionId: input.sessionId } }) };
      default:
        return {
          ok: false,
          error: new StorytellerError('LEDGER_WRITE_FAILED', 'player input lost a concurrent write race twice', {
            details: { sessionId: input.sessionId, clientInputId: input.clientInputId },
          }),
        };
    }
  }
}
