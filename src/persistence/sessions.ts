import { z } from 'zod';
import { StorytellerError } from '../errors.ts';
import type { Queryable } from './database.ts';

/**
 * The `sessions` table: one row per play session, its lifecycle status, position and
 * ownership (which engine instance holds it, with a fencing epoch checked on every
 * ledger append). Every row read back is validated.
 *
 * @example
 *   const sessions = new SessionStore(db);
 *   const s = await sessions.create({ storyId: 'the-lighthouse-keeper' });
 *   const epoch = await sessions.acquire(s.id, 'engine-a');
 *   await ledger.appendInput({ sessionId: s.id, clientInputId: 'c1', text: 'hello', sceneId: null, turn: 0, epoch });
 */
export const SESSION_STATUSES = ['active', 'disconnected', 'suspended', 'ended'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

const uuid = z.guid();

export const sessionRowSchema = z
  .object({
    id: uuid,
    story_id: z.string().nullable(),
    status: z.enum(SESSION_STATUSES),
    current_scene_id: uuid.nullable(),
    current_turn: z.number().int().nonnegative(),
    last_narrative_ts: z.number().int().nonnegative(),
    owner_instance: z.string().nullable(),
    owner_epoch: z.number().int().nonnegative(),
    disconnected_at: z.date().nullable(),
    grace_deadline: z.date().nullable(),
    created_at: z.date(),
    updated_at: z.date(),
  })
  .transform((r) => ({
    id: r.id,
    storyId: r.story_id,
    status: r.status,
    currentSceneId: r.current_scene_id,
    currentTurn: r.current_turn,
    lastNarrativeTs: r.last_narrative_ts,
    ownerInstance: r.owner_instance,
    ownerEpoch: r.owner_epoch,
    disconnectedAt: r.disconnected_at,
    graceDeadline: r.grace_deadline,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
export type SessionRow = z.output<typeof sessionRowSchema>;

export interface NewSession {
  id?: string;
  storyId: string;
  sceneId?: string | null;
}

export interface SessionPatch {
  status?: SessionStatus;
  currentSceneId?: string | null;
  currentTurn?: number;
  disconnectedAt?: Date | null;
  graceDeadline?: Date | null;
}

const newSessionSchema = z.object({ id: uuid.optional(), storyId: z.string().min(1), sceneId: uuid.nullable().optional() });
const patchSchema = z
  .object({
    status: z.enum(SESSION_STATUSES).optional(),
    currentSceneId: uuid.nullable().optional(),
    currentTurn: z.number().int().nonnegative().optional(),
    disconnectedAt: z.date().nullable().optional(),
    graceDeadline: z.date().nullable().optional(),
  })
  .strict();

const COLUMNS = `id, story_id, status, current_scene_id, current_turn, last_narrative_ts, owner_instance, owner_epoch,
  disconnected_at, grace_deadline, created_at, updated_at`;

const PATCH_COLUMNS: Record<keyof SessionPatch, string> = {
  status: 'status',
  currentSceneId: 'current_scene_id',
  currentTurn: 'current_turn',
  disconnectedAt: 'disconnected_at',
  graceDeadline: 'grace_deadline',
};

function toRow(raw: unknown): SessionRow {
  const parsed = sessionRowSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StorytellerError('STORED_DATA_INVALID', `session row fails its schema at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`, {
      details: { path: issue?.path ?? [] },
    });
  }
  return parsed.data;
}

function badRequest(what: string, error: z.ZodError): StorytellerError {
  const issue = error.issues[0];
  return new StorytellerError('SESSION_RECORD_INVALID', `${what}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(), {
    details: { path: issue?.path ?? [] },
  });
}

const isUuid = (value: string) => uuid.safeParse(value).success;

/** Session rows. Takes a Queryable so every call also works inside a transaction. */
export class SessionStore {
  readonly #q: Queryable;

  constructor(q: Queryable) {
    this.#q = q;
  }

  /**
   * Creates a session (status `active`) for a loaded story.
   * @throws StorytellerError STORY_NOT_FOUND when the story is not in `stories`; SESSION_ALREADY_EXISTS for a taken id.
   */
  async create(input: NewSession): Promise<SessionRow> {
    const parsed = newSessionSchema.safeParse(input);
    if (!parsed.success) throw badRequest('invalid new session', parsed.error);
    const { id, storyId, sceneId } = parsed.data;
    try {
      const { rows } = await this.#q.query(
        `INSERT INTO sessions (id, story_id, current_scene_id) VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3::uuid) RETURNING ${COLUMNS}`,
        [id ?? null, storyId, sceneId ?? null],
      );
      return toRow(rows[0]);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === '23503') throw new StorytellerError('STORY_NOT_FOUND', `no story ${storyId}`, { cause: error, details: { storyId } });
      if (code === '23505') throw new StorytellerError('SESSION_ALREADY_EXISTS', `session ${id} already exists`, { cause: error, details: { sessionId: id } });
      throw error;
    }
  }

  async get(id: string): Promise<SessionRow | null> {
    if (!isUuid(id)) return null;
    const { rows } = await this.#q.query(`SELECT ${COLUMNS} FROM sessions WHERE id = $1`, [id]);
    return rows.length === 0 ? null : toRow(rows[0]);
  }

  /**
   * Applies the given fields (absent ones unchanged, `null` clears) and returns the row.
   * @throws StorytellerError SESSION_NOT_FOUND
   */
  /**
   * @param options.epoch fencing: the update applies only while `owner_epoch` equals it
   * @throws StorytellerError SESSION_NOT_FOUND | LEDGER_FENCED (a newer owner holds the session)
   */
  async update(id: string, patch: SessionPatch, options: { epoch?: number } = {}): Promise<SessionRow> {
    const parsed = patchSchema.safeParse(patch);
    if (!parsed.success) throw badRequest('invalid session patch', parsed.error);
    if (!isUuid(id)) throw new StorytellerError('SESSION_NOT_FOUND', `no session ${JSON.stringify(id)}`, { details: { sessionId: id } });
    const sets: string[] = ['updated_at = NOW()'];
    const params: unknown[] = [id];
    for (const [key, value] of Object.entries(parsed.data) as Array<[keyof SessionPatch, unknown]>) {
      if (value === undefined) continue;
      params.push(value);
      sets.push(`${PATCH_COLUMNS[key]} = $${params.length}`);
    }
    let where = 'id = $1';
    if (options.epoch !== undefined) {
      params.push(options.epoch);
      where += ` AND owner_epoch = $${params.length}`;
    }
    const { rows } = await this.#q.query(`UPDATE sessions SET ${sets.join(', ')} WHERE ${where} RETURNING ${COLUMNS}`, params);
    if (rows.length === 0) {
      if (options.epoch !== undefined && (await this.get(id))) {
        throw new StorytellerError('LEDGER_FENCED', `session ${id} is owned by a newer epoch than ${options.epoch}`, { details: { sessionId: id, epoch: options.epoch } });
      }
      throw new StorytellerError('SESSION_NOT_FOUND', `no session ${id}`, { details: { sessionId: id } });
    }
    return toRow(rows[0]);
  }

  /**
   * Takes ownership for `instanceId`: bumps `owner_epoch` and returns it. Ledger appends
   * carrying an older epoch are refused from then on (LEDGER_FENCED).
   * @throws StorytellerError SESSION_NOT_FOUND
   */
  async acquire(id: string, instanceId: string): Promise<number> {
    if (!isUuid(id)) throw new StorytellerError('SESSION_NOT_FOUND', `no session ${JSON.stringify(id)}`, { details: { sessionId: id } });
    const { rows } = await this.#q.query<{ owner_epoch: number }>(
      'UPDATE sessions SET owner_instance = $2, owner_epoch = owner_epoch + 1, updated_at = NOW() WHERE id = $1 RETURNING owner_epoch',
      [id, instanceId],
    );
    const epoch = rows[0]?.owner_epoch;
    if (epoch === undefined) throw new StorytellerError('SESSION_NOT_FOUND', `no session ${id}`, { details: { sessionId: id } });
    return z.number().int().positive().parse(epoch);
  }

  /** Sessions in one status, oldest first (e.g. suspended sessions to resume). */
  async listByStatus(status: SessionStatus, limit = 1_000): Promise<SessionRow[]> {
    const { rows } = await this.#q.query(`SELECT ${COLUMNS} FROM sessions WHERE status = $1 ORDER BY created_at, id LIMIT $2`, [status, limit]);
    return rows.map(toRow);
  }
}
