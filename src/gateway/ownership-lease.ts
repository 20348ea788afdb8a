import type { Clock } from '../engine/clock.ts';
import type { SessionEngine } from '../engine/engine.ts';
import type { Database } from '../persistence/database.ts';
import type { Registry } from 'prom-client';
import { moduleLogger, type Logger } from '../logger.ts';
import { createLeaseMetrics, type LeaseMetrics } from './lease-metrics.ts';

/**
 * Session ownership leases across engine instances (seed: "Scaling Characteristics";
 * issue 15 §7). The epoch on every ledger append already makes at most one instance's
 * writes count; the lease adds liveness:
 *
 * - renew: every `ttlMs / 3` the instance extends `sessions.lease_expires_at` of the
 *   sessions it holds live (only where it is still the owner);
 * - sweep: every `ttlMs / 2` it claims sessions that are `active` or `disconnected` but
 *   whose lease expired — their owner died — one atomic UPDATE per session, so two
 *   sweepers never both win, and opens them: unanswered inputs are re-run, and with no
 *   player attached here the session is disconnected from now on and suspends after its
 *   grace period (checkpoint written) unless the player comes back.
 *
 * A client reconnecting to another instance moves the session there at any time (the
 * new owner's epoch fences the old one); the lease only decides who recovers sessions
 * nobody asks for. Times are the injected wall clock (all instances must agree, as
 * they do on NTP).
 */
export interface LeaseOptions {
  engine: SessionEngine;
  db: Database;
  ttlMs: number;
  clock: Clock;
  now: () => number;
  gracePeriodMs: number;
  logger: Logger;
  /** Where the lease metrics go (lease-metrics.ts); none when absent. */
  registry?: Registry;
}

export interface LeaseStatus {
  ttlMs: number;
  /** Wall-clock ms of the last successful renewal (null before the first). */
  renewedAt: number | null;
  healthy: boolean;
  held: number;
  claimed: number;
}

const LIVE = new Set(['loading', 'entering', 'playing', 'exiting', 'suspending']);

export class OwnershipLease {
  readonly #o: LeaseOptions;
  #renewedAt: number | null = null;
  #held = 0;
  #claimed = 0;
  #timers: unknown[] = [];
  #stopped = false;

  readonly #metrics: LeaseMetrics | null;

  constructor(options: LeaseOptions) {
    this.#o = { ...options, logger: moduleLogger(options.logger, 'lease') };
    this.#metrics = options.registry
      ? createLeaseMetrics(options.registry, () => ({
          held: this.#held,
          renewalAgeS: this.#renewedAt === null ? options.ttlMs / 1000 : Math.max(0, options.now() - this.#renewedAt) / 1000,
        }))
      : null;
  }

  start(): void {
    const loop = (every: number, work: () => Promise<unknown>) => {
      const tick = () => {
        if (this.#stopped) return;
        void work()
          .catch((error: unknown) => this.#o.logger.warn({ err: error }, 'ownership lease: a round failed'))
          .finally(() => {
            if (!this.#stopped) this.#timers.push(this.#o.clock.setTimeout(tick, every));
          });
      };
      tick();
    };
    loop(Math.max(10, Math.floor(this.#o.ttlMs / 3)), () =>
      this.renew().then(
        (n) => {
          this.#metrics?.renewals.inc({ outcome: 'ok' });
          return n;
        },
        (error: unknown) => {
          this.#metrics?.renewals.inc({ outcome: 'error' });
          throw error;
        },
      ),
    );
    loop(Math.max(10, Math.floor(this.#o.ttlMs / 2)), () => this.sweep());
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) this.#o.clock.clearTimeout(t);
    this.#timers = [];
  }

  status(): LeaseStatus {
    const healthy = this.#renewedAt !== null && this.#o.now() - this.#renewedAt < this.#o.ttlMs;
    return { ttlMs: this.#o.ttlMs, renewedAt: this.#renewedAt, healthy, held: this.#held, claimed: this.#claimed };
  }

  /** Extends the lease of every session this instance holds live. */
  async renew(): Promise<number> {
    const presence = this.#o.engine.registry.getSnapshot().context.sessions;
    const ids = Object.entries(presence)
      .filter(([, p]) => LIVE.has(p.lifecycle))
      .map(([id]) => id);
    const until = new Date(this.#o.now() + this.#o.ttlMs);
    if (ids.length > 0) {
      await this.#o.db.query('UPDATE sessions SET lease_expires_at = $3 WHERE id = ANY($1::uuid[]) AND owner_instance = $2', [ids, this.#o.engine.instanceId, until]);
    } else {
      await this.#o.db.query('SELECT 1');
    }
    this.#held = ids.length;
    this.#renewedAt = this.#o.now();
    return ids.length;
  }

  /**
   * The client asked for this session here (start or resume): hold its lease from now,
   * so no sweeper takes it while this instance opens it.
   */
  async claim(sessionId: string): Promise<void> {
    await this.#o.db.query('UPDATE sessions SET lease_expires_at = $2 WHERE id = $1', [sessionId, new Date(this.#o.now() + this.#o.ttlMs)]);
  }

  /** Claims and opens sessions whose owner's lease expired. Returns the ids taken over. */
  async sweep(limit = 100): Promise<string[]> {
    // $1 now, $2 ttl (s). A session never leased (NULL) counts as expired once its row is a TTL old
    // (just created or acquired rows are not, whatever their lease).
    const expired = `(lease_expires_at < $1 OR (lease_expires_at IS NULL AND updated_at < NOW() - make_interval(secs => $2)))`;
    const now = new Date(this.#o.now());
    const ttlS = this.#o.ttlMs / 1000;
    const { rows } = await this.#o.db.query<{ id: string }>(
      `SELECT id FROM sessions WHERE status IN ('active', 'disconnected') AND owner_instance IS DISTINCT FROM $3 AND ${expired} ORDER BY updated_at LIMIT $4`,
      [now, ttlS, this.#o.engine.instanceId, limit],
    );
    const taken: string[] = [];
    for (const { id } of rows) {
      if (this.#o.engine.get(id)) continue;
      // One winner per expired lease: the claim is conditional on the lease still being expired.
      const claim = await this.#o.db.query<{ status: string; grace_deadline: Date | null }>(
        `UPDATE sessions SET lease_expires_at = $3 WHERE id = $4 AND ${expired} RETURNING status, grace_deadline`,
        [now, ttlS, new Date(this.#o.now() + this.#o.ttlMs), id],
      );
      const row = claim.rows[0];
      if (!row) continue;
      // Nobody is attached here: disconnected from now (or keep an earlier deadline).
      const deadline = row.status === 'disconnected' && row.grace_deadline ? row.grace_deadline.getTime() : this.#o.now() + this.#o.gracePeriodMs;
      try {
        await this.#o.engine.open(id, { disconnectedUntil: deadline });
        taken.push(id);
        this.#metrics?.takeovers.inc({ outcome: 'ok' });
        this.#o.logger.info({ sessionId: id }, 'ownership lease: took over a session whose owner stopped renewing');
      } catch (error) {
        this.#metrics?.takeovers.inc({ outcome: 'error' });
        this.#o.logger.warn({ sessionId: id, err: error }, 'ownership lease: could not open an expired session');
      }
    }
    this.#claimed += taken.length;
    return taken;
  }
}
