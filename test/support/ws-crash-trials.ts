import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/persistence/database.ts';
import { auditFailures, auditLedger, type AckedInput } from '../../src/testing/ledger-audit.ts';
import { killGroup, startServe, type ServeProcess } from './serve-process.ts';
import { PLAYTHROUGH } from './crash-trials.ts';
import { auditWorkflows } from './workflow-audit.ts';
import { RETRYABLE_INPUT_CODES } from '../../src/gateway/protocol.ts';
import { TrackedPlayer } from './ws-player.ts';

/**
 * SIGKILL trials through the whole stack (issue 13): `storyteller serve` as a child in
 * its own process group, players on real WebSockets (PlayerClient with a store file per
 * player: what a browser keeps across a reload), the group SIGKILLed at random moments —
 * during start-up and recovery, during play, or while the in-process local runner has a
 * deferred scene-boundary step in flight — then a new server, and the clients come back
 * with their tokens and resend what is unanswered. At the end: a last server, every line
 * answered, and the oracles: the ledger audit (every acked input once, answered once,
 * checkpoints equal to the replay, scene exits whole) and the workflow audit (every scene
 * exit's workflow applied once).
 */
export type WsKillKind = 'startup' | 'random' | 'deferred';

export interface WsTrialOptions {
  trials: number;
  seed: number;
  databaseUrl: string;
  /** The parent's own connection for the audits. */
  auditDb: Database;
  players?: number;
  log?: (line: string) => void;
}

export interface WsDriverReport {
  driver: 'ws';
  trials: number;
  kills: Record<WsKillKind, number>;
  acked_inputs: number;
  player_inputs: number;
  scene_exits: number;
  checkpoints: number;
  sessions: number;
  lost_inputs: number;
  unanswered_inputs: number;
  duplicate_turns: number;
  inconsistent_checkpoints: number;
  broken_scene_exits: number;
  /** Scene exits whose workflow never completed, or was applied more than once. */
  workflows_pending: number;
  workflows_broken: number;
  /** Non-retryable refusals the clients got, and servers that did not start. */
  child_errors: number;
  violations: string[];
  seconds: number;
}

const DETOURS = ['wait', 'look around', 'north', 'what is this place?', 'sing loudly'];
const SECRET = 'ws-crash-secret-of-at-least-thirty-two-chars';
/** Recovery and the final answers; far above what a loaded 2-core machine needs. */
const SETTLE_MS = 120_000;

function prng(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([p, delay(ms).then(() => 'timeout' as const)]);

export async function runWsCrashTrials(options: WsTrialOptions): Promise<WsDriverReport> {
  const started = Date.now();
  const random = prng(options.seed);
  const log = options.log ?? (() => undefined);
  const n = options.players ?? 2;
  const dir = await mkdtemp(join(tmpdir(), 'st-ws-crash-'));
  const report: WsDriverReport = {
    driver: 'ws', trials: 0, kills: { startup: 0, random: 0, deferred: 0 }, acked_inputs: 0, player_inputs: 0, scene_exits: 0, checkpoints: 0, sessions: 0,
    lost_inputs: 0, unanswered_inputs: 0, duplicate_turns: 0, inconsistent_checkpoints: 0, broken_scene_exits: 0, workflows_pending: 0, workflows_broken: 0,
    child_errors: 0, violations: [], seconds: 0,
  };
  const violations = new Set<string>();
  const acked = new Map<string, AckedInput>();
  const next = Array.from({ length: n }, () => 0);
  const env = { DATABASE_URL: options.databaseUrl, AMQP_URL: undefined, STORYTELLER_GATEWAY_SECRET: SECRET, STORYTELLER_INSTANCE_ID: 'ws-trials', STORYTELLER_DATA_DIR: join(dir, 'server'), LOG_LEVEL: 'silent', STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS: '3000', STORYTELLER_TASKER_LOCAL_STALE_AFTER_MS: '3000' };

  /** New clients on the stored state (a page reload), playing on `server`. */
  const connect = async (server: ServeProcess): Promise<TrackedPlayer[]> => {
    const players = Array.from({ length: n }, (_, i) => new TrackedPlayer({ url: server.wsUrl, storePath: join(dir, `player-${i}.json`), backoffBaseMs: 100, backoffMaxMs: 500 }));
    await Promise.all(players.map((p) => p.start()));
    return players;
  };
  /** Lines refused for good (SESSION_NOT_PLAYING), by clientInputId, with what the server said. */
  const gaveUp = new Map<string, { code: string; message: string }>();
  /** What one server process said: its acks, and no line answered twice (fresh) by it. */
  const collect = async (players: TrackedPlayer[]): Promise<void> => {
    for (const p of players) {
      for (const a of p.ackedInputs()) acked.set(`${a.sessionId}/${a.clientInputId}`, a);
      const fresh = p.doneFrames.filter((d) => !d.replayed).map((d) => d.clientInputId);
      for (const id of fresh) if (fresh.indexOf(id) !== fresh.lastIndexOf(id)) violations.add(`${id} answered twice by one server process`);
      for (const r of p.refusals) {
        if (r.code !== 'STORAGE_UNAVAILABLE' && r.code !== 'ENGINE_SHUTTING_DOWN' && r.code !== 'SESSION_NOT_PLAYING') {
          report.child_errors += 1;
          log(`refusal ${r.code} (${r.clientInputId ?? '-'})`);
        } else if (r.clientInputId && !RETRYABLE_INPUT_CODES.has(r.code)) {
          // The client gives such a line up: allowed only after the story's end (checked at the end).
          log(`line ${r.clientInputId} refused ${r.code}: ${r.message}`);
          gaveUp.set(r.clientInputId, r);
        }
      }
    }
    await Promise.all(players.map((p) => p.close()));
  };
  const typeOne = (p: TrackedPlayer, i: number) => {
    const k = next[i] as number;
    const text = random() < 0.8 && k < PLAYTHROUGH.length ? (PLAYTHROUGH[(next[i] = k + 1) - 1] as string) : (DETOURS[Math.floor(random() * DETOURS.length)] as string);
    p.type(text);
  };
  /** Bursts and gaps until `stop` resolves. */
  const drive = async (players: TrackedPlayer[], stop: Promise<unknown>): Promise<void> => {
    let stopped = false;
    void stop.then(() => (stopped = true));
    while (!stopped) {
      const i = Math.floor(random() * players.length);
      const burst = 1 + Math.floor(random() * 3);
      for (let b = 0; b < burst; b++) typeOne(players[i] as TrackedPlayer, i);
      await Promise.race([stop, delay(50 + Math.floor(random() * 400))]);
    }
  };
  /**
   * Resolves when the local runner has a deferred step in flight (the parent's own view of the
   * database) on its first attempt. A killed attempt counts (Tasker counts attempts at the
   * claim), so a step killed max_attempts times fails by contract; targeting first attempts
   * only leaves every step its last attempt, and the audit can demand every workflow complete.
   */
  const deferredInFlight = async (until: () => boolean): Promise<boolean> => {
    while (!until()) {
      const { rows } = await options.auditDb.query(`SELECT 1 FROM workflow_steps WHERE state = 'in_progress' AND attempts < max_attempts - 1 LIMIT 1`);
      if (rows.length > 0) return true;
      await delay(5);
    }
    return false;
  };

  try {
    for (let trial = 1; trial <= options.trials; trial++) {
      const kind = (['startup', 'random', 'random', 'deferred', 'deferred'] as const)[Math.floor(random() * 5)] as WsKillKind;
      if (kind === 'startup') {
        // Uniform over start-up and recovery: the previous kill's sessions are reopened by the clients' resumes.
        const spawned: { child: ChildProcess | null } = { child: null };
        const killAt = Math.floor(random() * 6_000);
        const spawnAt = Date.now();
        const starting = startServe(env, 'ws-trial', (c) => (spawned.child = c)).catch(() => null);
        const server = await within(starting, killAt);
        let players: TrackedPlayer[] = [];
        if (server && server !== 'timeout') {
          // Listening before the kill: the clients' resumes are the recovery (sessions reopened, unanswered turns re-run).
          players = await connect(server);
          await delay(Math.max(0, killAt - (Date.now() - spawnAt)));
        }
        if (spawned.child) killGroup(spawned.child);
        await starting;
        await collect(players);
        report.kills.startup += 1;
        report.trials += 1;
        log(`trial ${trial} ws: SIGKILL during start-up/recovery (${killAt} ms)`);
        continue;
      }
      let server: ServeProcess;
      try {
        server = await startServe(env, 'ws-trial');
      } catch (error) {
        report.child_errors += 1;
        log(`server did not start: ${String(error).slice(0, 2000)}`);
        continue;
      }
      const players = await connect(server);
      let hit = false;
      if (kind === 'deferred') {
        let done = false;
        const budget = delay(8_000).then(() => (done = true));
        const found = deferredInFlight(() => done).then((f) => {
          hit = f;
          done = true;
        });
        await drive(players, Promise.race([found, budget]));
      } else {
        const killAt = Math.floor(random() * 3_000);
        await drive(players, delay(killAt));
      }
      server.signal('SIGKILL');
      await server.exited;
      await collect(players);
      if (kind === 'deferred' && hit) report.kills.deferred += 1;
      else report.kills.random += 1;
      report.trials += 1;
      log(`trial ${trial} ws: SIGKILL ${kind === 'deferred' ? (hit ? 'during a deferred step' : 'at the end of play (no deferred step seen)') : 'during play'}`);
    }

    // The last server: every client comes back, every line is answered, every workflow applied.
    const server = await startServe(env, 'ws-final');
    const players = await connect(server);
    // Nothing left unanswered; a line the client gave up ('refused') is allowed only after the
    // story's end (typed after THE END: SESSION_NOT_PLAYING, "has ended"), checked below.
    const settled = await within(Promise.all(players.map((p) => p.until(() => p.client.unanswered() === 0, 'nothing unanswered'))), SETTLE_MS);
    if (settled === 'timeout') violations.add(`lines still unanswered after ${SETTLE_MS} ms:\n${players.map((p) => p.describe()).join('\n')}`);
    const sessionIds = [...new Set(players.map((p) => p.sessionId).filter((s): s is string => s !== null))];
    // (The client then starts a new game, so the session a line was refused on is the one its refusal names.)
    for (const p of players) {
      for (const line of p.client.store.lines.filter((l) => l.state === 'refused')) {
        const refusal = gaveUp.get(line.clientInputId);
        const named = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(refusal?.message ?? '')?.[0];
        const status = named ? (await options.auditDb.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [named])).rows[0]?.status : undefined;
        if (refusal?.code !== 'SESSION_NOT_PLAYING' || status !== 'ended') {
          violations.add(`line ${line.clientInputId} refused (${refusal ? `${refusal.code}: ${refusal.message}` : 'no refusal seen'}) on a session that had not ended (${status ?? '?'})`);
        }
      }
    }
    const deadline = Date.now() + SETTLE_MS;
    let workflows = await auditWorkflows(options.auditDb, sessionIds);
    while (workflows.pending.length > 0 && Date.now() < deadline) {
      await delay(250);
      workflows = await auditWorkflows(options.auditDb, sessionIds);
    }
    await collect(players);
    server.signal('SIGTERM');
    const exit = await within(server.exited, 30_000);
    if (exit === 'timeout' || exit.code !== 0) violations.add(`the last server did not exit 0 on SIGTERM (${JSON.stringify(exit)})`);
    if (exit === 'timeout') server.signal('SIGKILL');

    const all = (await options.auditDb.query<{ id: string }>('SELECT id FROM sessions ORDER BY id')).rows.map((r) => r.id);
    const audit = await auditLedger(options.auditDb, { sessionIds: all, acked: [...acked.values()] });
    for (const v of auditFailures(audit)) violations.add(v);
    for (const v of workflows.pending) violations.add(`workflow pending: ${v}`);
    for (const v of workflows.broken) violations.add(`workflow broken: ${v}`);
    report.player_inputs = audit.playerInputs;
    report.scene_exits = audit.sceneExits;
    report.checkpoints = audit.checkpoints;
    report.sessions = audit.sessions;
    report.lost_inputs = audit.lostInputs.length;
    report.unanswered_inputs = audit.unansweredInputs.length;
    report.duplicate_turns = audit.duplicateTurns.length;
    report.inconsistent_checkpoints = audit.inconsistentCheckpoints.length;
    report.broken_scene_exits = audit.brokenSceneExits.length;
    report.workflows_pending = workflows.pending.length;
    report.workflows_broken = workflows.broken.length;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  report.acked_inputs = acked.size;
  report.violations = [...violations].sort();
  report.seconds = Math.round((Date.now() - started) / 1000);
  return report;
}

export function wsReportHolds(r: WsDriverReport): boolean {
  return r.violations.length === 0 && r.child_errors === 0 && r.lost_inputs === 0 && r.unanswered_inputs === 0 && r.duplicate_turns === 0 && r.workflows_pending === 0 && r.workflows_broken === 0;
}
