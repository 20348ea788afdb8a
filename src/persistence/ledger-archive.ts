import { reconstructTruthSet, toCanonicalJson } from '../domain/truth-set.ts';
import { StorytellerError } from '../errors.ts';
import { loadNewestCheckpoint } from './checkpoints.ts';
import type { Database, Queryable } from './database.ts';
import { listLedgerPartitions } from './ledger-partitions.ts';
import { ledgerColumnList, rowToRecord } from './ledger-rows.ts';
import { truthSetOfCheckpoint } from './truth-set-replay.ts';

/**
 * `storyteller ledger archive --before <date>` (docs/ledger-retention.md): moves the old
 * history of ended and long-suspended sessions out of the live `event_ledger` into
 * `event_ledger_archive`, and records a summary checkpoint per session.
 *
 * What moves, per eligible session: rows with narrative_ts ≤ its horizon, where the horizon
 * is the smallest of (a) its newest checkpoint's ledger_ts — recovery starts at that
 * checkpoint and replays only later rows, which stay live; (b) the last row written before
 * the date; (c) just before its first unanswered PlayerInput, if any. A long-suspended
 * session keeps its PlayerInput and TurnCompleted rows live: retransmission dedupe on
 * (session_id, client_input_id) and the unanswered-input scan of crash recovery read the
 * live table, and stay exact. Temporal predicates (After / Since / Sequence) read the whole
 * history through the `event_ledger_history` view, so their answers do not change.
 *
 * Eligible: status 'ended', or 'suspended' and untouched (updated_at) since before the date;
 * no open workflow (an outbox row not completed: its steps read the ledger by scene); a
 * newest checkpoint whose truth set equals the replay of the ledger from its first row.
 *
 * A live month partition that ended before the date and whose every row would move is
 * moved whole: DETACH from event_ledger, ATTACH to event_ledger_archive — no row is copied
 * or deleted. Other rows move with one INSERT … SELECT of a DELETE … RETURNING per session.
 */

export interface ArchiveOptions {
  before: Date;
  dryRun?: boolean;
}

export type SkipReason = 'no_checkpoint' | 'workflow_open' | 'checkpoint_inconsistent' | 'nothing_old';

export interface SessionPlan {
  sessionId: string;
  status: 'ended' | 'suspended';
  sessionStartedAt: Date;
  /** Rows up to this narrative_ts move (0 when skipped). */
  horizonTs: number;
  checkpointId: string | null;
  rowsToMove: number;
  /** Live rows of the session that stay (after the horizon, or kept for a suspended session). */
  rowsKept: number;
  skipped: SkipReason | null;
}

export interface ArchiveReport {
  before: Date;
  dryRun: boolean;
  sessions: SessionPlan[];
  /** Whole month partitions moved (or that would be) by DETACH + ATTACH. */
  partitionsMoved: string[];
  rowsMoved: number;
}

/**
 * Parses the `--before` value: an ISO date (2026-09-01) or date-time, not in the future.
 * @throws StorytellerError LEDGER_ARCHIVE_DATE_INVALID
 */
export function parseArchiveDate(text: string, now: Date = new Date()): Date {
  const trimmed = text.trim();
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
  const date = iso.test(trimmed) ? new Date(/^\d{4}-\d{2}-\d{2}$/.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed) : new Date(Number.NaN);
  // new Date('2026-02-30') rolls over to March: compare the calendar date back.
  if (Number.isNaN(date.getTime()) || (/^\d{4}-\d{2}-\d{2}$/.test(trimmed) && date.toISOString().slice(0, 10) !== trimmed)) {
    throw new StorytellerError('LEDGER_ARCHIVE_DATE_INVALID', `--before ${JSON.stringify(text)} is not a date (expected YYYY-MM-DD or an ISO date-time)`, {
      details: { value: text },
    });
  }
  if (date.getTime() > now.getTime()) {
    throw new StorytellerError('LEDGER_ARCHIVE_DATE_INVALID', `--before ${trimmed} is in the future: only history older than now can be archived`, {
      details: { value: text, now: now.toISOString() },
    });
  }
  return date;
}

/** Rows a long-suspended session keeps live (dedupe and unanswered-input scans read them). */
const KEPT_FOR_SUSPENDED = `event_type IN ('PlayerInput', 'TurnCompleted')`;

async function planSession(q: Queryable, s: { id: string; status: 'ended' | 'suspended'; created_at: Date }, before: Date): Promise<SessionPlan> {
  const plan: SessionPlan = {
    sessionId: s.id,
    status: s.status,
    sessionStartedAt: s.created_at,
    horizonTs: 0,
    checkpointId: null,
    rowsToMove: 0,
    rowsKept: 0,
    skipped: null,
  };
  const live = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND session_started_at = (SELECT created_at FROM sessions WHERE id = $1)', [s.id]);
  plan.rowsKept = Number(live.rows[0]?.n ?? 0);
  const open = await q.query('SELECT 1 FROM outbox WHERE session_id = $1 AND completed_at IS NULL LIMIT 1', [s.id]);
  if (open.rows.length > 0) return { ...plan, skipped: 'workflow_open' };
  const checkpoint = await loadNewestCheckpoint(q, s.id);
  if (!checkpoint) return { ...plan, skipped: 'no_checkpoint' };
  plan.checkpointId = checkpoint.id;
  // The summary is only as good as the checkpoint: it must equal the replay from the first row.
  const { rows } = await q.query(
    `SELECT ${ledgerColumnList()} FROM event_ledger_history WHERE session_id = $1 AND narrative_ts <= $2 ORDER BY narrative_ts`,
    [s.id, checkpoint.ledgerTs],
  );
  const replayed = reconstructTruthSet(null, rows.map(rowToRecord));
  let stored: unknown = null;
  try {
    stored = truthSetOfCheckpoint(checkpoint);
  } catch {
    stored = null;
  }
  if (stored === null || JSON.stringify(toCanonicalJson(stored)) !== JSON.stringify(toCanonicalJson(replayed))) return { ...plan, skipped: 'checkpoint_inconsistent' };
  const bounds = await q.query<{ old_ts: number | null; unanswered_ts: number | null }>(
    `SELECT (SELECT max(narrative_ts) FROM event_ledger WHERE session_id = $1 AND session_started_at = (SELECT created_at FROM sessions WHERE id = $1) AND created_at < $2) AS old_ts,
            (SELECT min(l.narrative_ts) FROM event_ledger l
              WHERE l.session_id = $1 AND l.session_started_at = (SELECT created_at FROM sessions WHERE id = $1) AND l.event_type = 'PlayerInput'
                AND NOT EXISTS (SELECT 1 FROM event_ledger t WHERE t.session_id = l.session_id AND t.session_started_at = l.session_started_at
                                  AND t.event_type = 'TurnCompleted' AND (t.input_id = l.id OR (t.event_data->>'inputId')::bigint = l.id))) AS unanswered_ts`,
    [s.id, before.toISOString()],
  );
  const b = bounds.rows[0];
  const limits = [checkpoint.ledgerTs, b?.old_ts === null || b?.old_ts === undefined ? 0 : Number(b.old_ts)];
  if (b?.unanswered_ts !== null && b?.unanswered_ts !== undefined) limits.push(Number(b.unanswered_ts) - 1);
  plan.horizonTs = Math.max(0, Math.min(...limits));
  const moving = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND session_started_at = (SELECT created_at FROM sessions WHERE id = $1) AND narrative_ts <= $2
       ${s.status === 'suspended' ? `AND NOT (${KEPT_FOR_SUSPENDED})` : ''}`,
    [s.id, plan.horizonTs],
  );
  plan.rowsToMove = Number(moving.rows[0]?.n ?? 0);
  plan.rowsKept -= plan.rowsToMove;
  if (plan.rowsToMove === 0) return { ...plan, skipped: 'nothing_old' };
  return plan;
}

async function candidates(q: Queryable, before: Date, lock: string | null): Promise<Array<{ id: string; status: 'ended' | 'suspended'; created_at: Date }>> {
  const { rows } = await q.query<{ id: string; status: 'ended' | 'suspended'; created_at: Date }>(
    `SELECT id, status, created_at FROM sessions
      WHERE created_at < $1 AND (status = 'ended' OR (status = 'suspended' AND updated_at < $1)) ${lock ? 'AND id = $2' : ''}
      ORDER BY created_at, id ${lock ? 'FOR UPDATE' : ''}`,
    lock ? [before.toISOString(), lock] : [before.toISOString()],
  );
  return rows;
}

const monthName = (parent: string, from: Date) => `${parent}_y${from.getUTCFullYear()}m${String(from.getUTCMonth() + 1).padStart(2, '0')}`;

/** Moves one planned session's rows (inside `tx`, session row locked) and upserts its summary. Returns rows moved. */
async function moveSession(tx: Queryable, plan: SessionPlan, before: Date): Promise<number> {
  // Timestamps are not round-tripped through JS Dates (milliseconds): the key is read in SQL.
  await tx.query(`SELECT ledger_month_partition('event_ledger_archive', (SELECT created_at FROM sessions WHERE id = $1::uuid))`, [plan.sessionId]);
  const moved = await tx.query<{ n: number }>(
    `WITH moved AS (
       DELETE FROM event_ledger WHERE session_id = $1 AND session_started_at = (SELECT created_at FROM sessions WHERE id = $1) AND narrative_ts <= $2
         ${plan.status === 'suspended' ? `AND NOT (${KEPT_FOR_SUSPENDED})` : ''}
       RETURNING *
     ), ins AS (INSERT INTO event_ledger_archive SELECT * FROM moved RETURNING 1)
     SELECT count(*)::int AS n FROM ins`,
    [plan.sessionId, plan.horizonTs],
  );
  const n = Number(moved.rows[0]?.n ?? 0);
  await upsertSummary(tx, plan, n, before);
  return n;
}

/** The summary checkpoint: the horizon, the checkpoint recovery starts from, the truth set at the horizon. */
async function upsertSummary(tx: Queryable, plan: SessionPlan, rows: number, before: Date): Promise<void> {
  const { rows: history } = await tx.query(
    `SELECT ${ledgerColumnList()} FROM event_ledger_history WHERE session_id = $1 AND narrative_ts <= $2 ORDER BY narrative_ts`,
    [plan.sessionId, plan.horizonTs],
  );
  const truthSet = reconstructTruthSet(null, history.map(rowToRecord));
  await tx.query(
    `INSERT INTO ledger_archive_summaries (session_id, horizon_ts, checkpoint_id, truth_set, archived_rows, archived_before)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6)
     ON CONFLICT (session_id) DO UPDATE SET horizon_ts = GREATEST(ledger_archive_summaries.horizon_ts, EXCLUDED.horizon_ts),
       checkpoint_id = EXCLUDED.checkpoint_id, truth_set = EXCLUDED.truth_set,
       archived_rows = ledger_archive_summaries.archived_rows + EXCLUDED.archived_rows,
       archived_before = EXCLUDED.archived_before, archived_at = NOW()`,
    [plan.sessionId, plan.horizonTs, plan.checkpointId, JSON.stringify(toCanonicalJson(truthSet)), rows, before.toISOString()],
  );
}

/**
 * Plans (dry run) or performs the archive.
 *
 * @example
 * const report = await archiveLedger(db, { before: parseArchiveDate('2026-09-01') });
 */
export async function archiveLedger(db: Database, options: ArchiveOptions): Promise<ArchiveReport> {
  const before = options.before;
  const dryRun = options.dryRun ?? false;
  const plans = await Promise.all((await candidates(db, before, null)).map((s) => planSession(db, s, before)));
  const report: ArchiveReport = { before, dryRun, sessions: plans, partitionsMoved: [], rowsMoved: 0 };
  const ready = plans.filter((p) => p.skipped === null);

  // Whole months: every row of the partition belongs to a ready, ended session and moves.
  const archived = new Set((await listLedgerPartitions(db, 'event_ledger_archive')).map((p) => p.name));
  const whole = new Set<string>();
  for (const part of await listLedgerPartitions(db)) {
    if (part.from === null || part.to === null || part.to.getTime() > before.getTime() || part.rows === 0) continue;
    if (archived.has(monthName('event_ledger_archive', part.from))) continue; // a partial month already there: rows move one by one
    const inside = ready.filter((p) => p.sessionStartedAt >= part.from! && p.sessionStartedAt < part.to!);
    if (inside.some((p) => p.status !== 'ended' || p.rowsKept !== 0) || inside.reduce((n, p) => n + p.rowsToMove, 0) !== part.rows) continue;
    report.partitionsMoved.push(part.name);
    inside.forEach((p) => whole.add(p.sessionId));
    if (dryRun) {
      report.rowsMoved += part.rows;
      continue;
    }
    await db.transaction(async (tx) => {
      // Lock the sessions, re-plan under the lock: nothing changed since, or the month stays.
      const again: SessionPlan[] = [];
      for (const p of inside) {
        const locked = await candidates(tx, before, p.sessionId);
        if (locked[0]) again.push(await planSession(tx, locked[0], before));
      }
      if (again.length !== inside.length || again.some((p, i) => p.skipped !== null || p.rowsKept !== 0 || p.rowsToMove !== inside[i]!.rowsToMove)) {
        throw new StorytellerError('LEDGER_WRITE_FAILED', `partition ${part.name} changed while it was being archived; run the command again`);
      }
      const target = monthName('event_ledger_archive', part.from!);
      await tx.exec(`ALTER TABLE event_ledger DETACH PARTITION ${part.name}`);
      await tx.exec(`ALTER TABLE ${part.name} RENAME TO ${target}`);
      await tx.exec(`ALTER TABLE event_ledger_archive ATTACH PARTITION ${target} FOR VALUES FROM ('${part.from!.toISOString()}') TO ('${part.to!.toISOString()}')`);
      for (const p of again) await upsertSummary(tx, p, p.rowsToMove, before);
    });
    report.rowsMoved += part.rows;
  }

  for (const plan of ready) {
    if (whole.has(plan.sessionId)) continue;
    if (dryRun) {
      report.rowsMoved += plan.rowsToMove;
      continue;
    }
    report.rowsMoved += await db.transaction(async (tx) => {
      // The session row lock also holds off appends to it; re-plan under the lock (it may have resumed).
      const locked = await candidates(tx, before, plan.sessionId);
      if (!locked[0]) return 0;
      const fresh = await planSession(tx, locked[0], before);
      if (fresh.skipped !== null) return 0;
      return moveSession(tx, fresh, before);
    });
  }
  return report;
}
