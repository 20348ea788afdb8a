import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FAULT_POINTS, type FaultPoint } from '../../src/engine/fault-points.ts';
import type { Database } from '../../src/persistence/database.ts';
import { auditFailures, auditLedger, type AckedInput, type LedgerAudit } from '../../src/testing/ledger-audit.ts';

/**
 * Randomized SIGKILL trials of the real engine process (issue 9, "the proof").
 *
 * The engine runs as a child process — `storyteller engine-stdio` (JSON lines, many
 * sessions, bursts) and, every few trials, the terminal client `storyteller play` — on a
 * real PostgreSQL database or an embedded PGlite data directory. The parent sends
 * SIGKILL to the child's process group at a random moment (uniform over start-up and
 * recovery, or over play: mid-turn, inside scene-exit transactions, during event
 * batches) or when the child reports that it reached an armed fault point (the child then
 * freezes until it is killed). Each trial's next child recovers the database; then the
 * ledger is audited from the database alone (src/testing/ledger-audit.ts): every
 * acknowledged input is stored, each input has exactly one answer, every checkpoint equals
 * the replay from the first ledger row, every scene exit wrote one checkpoint and one
 * outbox row in its transaction.
 */
export type Driver = 'pg' | 'pglite';
export type KillKind = 'startup' | 'random' | 'fault' | 'cli';

export interface TrialOptions {
  driver: Driver;
  trials: number;
  seed: number;
  /** pg: the database the children use (a fresh one). */
  databaseUrl?: string;
  /** pglite: the data directory the children use (a fresh one). */
  dataDir?: string;
  /** pg: the parent's own connection for the audit (independent of every child). */
  auditDb?: Database;
  /** Sessions kept playing at once in one child. */
  sessions?: number;
  /** Every n-th trial drives the terminal client instead (0: never). */
  cliEvery?: number;
  log?: (line: string) => void;
}

export interface DriverReport {
  driver: Driver;
  trials: number;
  kills: Record<KillKind, number>;
  fault_points_reached: Partial<Record<FaultPoint, number>>;
  acked_inputs: number;
  player_inputs: number;
  scene_exits: number;
  checkpoints: number;
  sessions: number;
  stories_finished: number;
  lost_inputs: number;
  unanswered_inputs: number;
  duplicate_turns: number;
  inconsistent_checkpoints: number;
  broken_scene_exits: number;
  pglite_reopen_failures: number;
  child_errors: number;
  /** Distinct violations seen by any audit (empty when every guarantee held). */
  violations: string[];
  seconds: number;
}

/** The sample story's winning path (README), then inputs it did not anticipate. */
export const PLAYTHROUGH = [
  'look', 'ask Ewan about the light', 'go to the inn', 'ask Silas about the Curlew', 'take the key', 'give the letter to Ada',
  'go to the cliff path', 'ask Nell about the lamp', 'go to the lighthouse', 'go up', 'unlock the door', 'go up',
  'ask Tobias about Davey', 'give the lamp to Tobias',
];
const DETOURS = ['wait', 'look around', 'x door', 'north', 'what is this place?', 'sing loudly', 'ask about the sea', 'take everything', '/nonsense', 'hello?'];

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function prng(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

interface SessionPlay {
  id: string;
  next: number;
  ended: boolean;
  /** Sent, not acknowledged: a client retransmits these (same clientInputId) after reconnecting. */
  unacked: Map<string, string>;
}

type Line = Record<string, unknown> & { type?: string };

class Child {
  readonly process: ChildProcess;
  readonly lines: Line[] = [];
  /** Answers this engine process gave, per session and clientInputId (one engine never answers an input twice). */
  readonly answers = new Map<string, number>();
  readonly exited: Promise<number | null>;
  #waiters: Array<{ match: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  #buffer = '';
  stderr = '';

  constructor(args: string[], env: NodeJS.ProcessEnv, onLine: (l: Line) => void, onExit: (c: Child) => void = () => undefined) {
    this.process = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.process.stdin?.on('error', () => undefined);
    this.process.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 20_000) this.stderr += d.toString();
    });
    this.process.stdout?.on('data', (d: Buffer) => {
      this.#buffer += d.toString();
      const parts = this.#buffer.split('\n');
      this.#buffer = parts.pop() ?? '';
      for (const raw of parts) {
        let line: Line;
        try {
          line = raw.startsWith('{') ? (JSON.parse(raw) as Line) : { type: 'text', text: raw };
        } catch {
          line = { type: 'text', text: raw };
        }
        this.lines.push(line);
        if (line.type === 'answer') {
          const key = `${String(line.sessionId)}/${String(line.clientInputId)}`;
          this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
        }
        onLine(line);
        for (const w of [...this.#waiters]) {
          if (w.match(line)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
    this.exited = new Promise((resolve) => this.process.on('exit', (code) => resolve(code)));
    void this.exited.then(() => onExit(this));
  }

  send(command: Record<string, unknown> | string): void {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.stdin?.write(typeof command === 'string' ? `${command}\n` : `${JSON.stringify(command)}\n`);
  }

  /** Resolves with the first later line that matches, or null if the child exits first. */
  waitFor(match: (l: Line) => boolean): Promise<Line | null> {
    return Promise.race([new Promise<Line>((resolve) => this.#waiters.push({ match, resolve })), this.exited.then(() => null)]);
  }

  /** SIGKILL to the whole process group (the engine, its worker threads, anything it spawned). */
  kill(): Promise<number | null> {
    try {
      if (this.process.pid !== undefined) process.kill(-this.process.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    return this.exited;
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Recovery re-runs every unanswered turn; on a loaded 2-core machine that stays well under this. */
const RECOVERY_LIMIT_MS = 180_000;

export async function runCrashTrials(options: TrialOptions): Promise<DriverReport> {
  const started = Date.now();
  const random = prng(options.seed);
  const log = options.log ?? (() => undefined);
  const report: DriverReport = {
    driver: options.driver,
    trials: 0,
    kills: { startup: 0, random: 0, fault: 0, cli: 0 },
    fault_points_reached: {},
    acked_inputs: 0,
    player_inputs: 0,
    scene_exits: 0,
    checkpoints: 0,
    sessions: 0,
    stories_finished: 0,
    lost_inputs: 0,
    unanswered_inputs: 0,
    duplicate_turns: 0,
    inconsistent_checkpoints: 0,
    broken_scene_exits: 0,
    pglite_reopen_failures: 0,
    child_errors: 0,
    violations: [],
    seconds: 0,
  };
  const acked = new Map<string, AckedInput>();
  const cliAcked = new Set<number>();
  const sessions = new Map<string, SessionPlay>();
  const violations = new Set<string>();
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  for (const name of ['STORYTELLER_INSPECT', 'STORYTELLER_FAULT', 'DATABASE_URL', 'STORYTELLER_DATA_DIR']) delete env[name];
  if (options.driver === 'pg') env.DATABASE_URL = options.databaseUrl;
  else env.STORYTELLER_DATA_DIR = options.dataDir;
  let seq = 0;

  /** Within one engine process an input is answered at most once (across a crash, again is allowed: at least once). */
  const checkAnswers = (child: Child) => {
    for (const [key, n] of child.answers) if (n > 1) violations.add(`${key} answered ${n} times by one engine process`);
  };
  const onLine = (l: Line) => {
    if (l.type === 'ack' && typeof l.sessionId === 'string' && typeof l.clientInputId === 'string' && typeof l.inputId === 'number') {
      acked.set(`${l.sessionId}/${l.clientInputId}`, { sessionId: l.sessionId, clientInputId: l.clientInputId, inputId: l.inputId });
      sessions.get(l.sessionId)?.unacked.delete(l.clientInputId);
    } else if (l.type === 'ended' && typeof l.sessionId === 'string') {
      const s = sessions.get(l.sessionId);
      if (s && !s.ended) {
        s.ended = true;
        report.stories_finished += 1;
      }
    } else if (l.type === 'rejected' && typeof l.sessionId === 'string') {
      if (l.code === 'SESSION_NOT_PLAYING') {
        const s = sessions.get(l.sessionId);
        if (s) s.ended = true;
      }
    } else if (l.type === 'error' && l.code === 'SESSION_NOT_PLAYING' && l.op === 'input') {
      // The story of a session ended while a previous child was being killed: the client learns it now.
      for (const s of sessions.values()) if (typeof l.message === 'string' && l.message.includes(s.id)) s.ended = true;
    } else if (l.type === 'error' || l.type === 'failed') {
      report.child_errors += 1;
      log(`child ${l.type}: ${JSON.stringify(l)}`);
    } else if (l.type === 'text' && typeof l.text === 'string') {
      const m = /\(input #(\d+) saved\)/.exec(l.text);
      if (m) cliAcked.add(Number(m[1]));
    }
  };

  const audit = async (child: Child | null): Promise<LedgerAudit | null> => {
    let result: LedgerAudit;
    const ackedList = [...acked.values()];
    if (options.driver === 'pg') {
      if (!options.auditDb) throw new Error('pg trials need auditDb');
      result = await auditLedger(options.auditDb, { acked: ackedList });
      // Inputs the terminal client reported as saved (it shows ledger ids only).
      const { rows } = await options.auditDb.query<{ id: string }>(`SELECT id FROM event_ledger WHERE event_type = 'PlayerInput' AND id = ANY($1::bigint[])`, [[...cliAcked]]);
      const found = new Set(rows.map((r) => Number(r.id)));
      for (const id of cliAcked) if (!found.has(id)) violations.add(`lost input #${id} (terminal client)`);
    } else {
      if (!child) return null;
      const answer = child.waitFor((l) => l.type === 'audit');
      child.send({ op: 'audit', acked: ackedList, inputIds: [...cliAcked] });
      const line = await answer;
      if (!line) return null;
      result = line.audit as LedgerAudit;
      for (const id of (line.missingInputIds as number[] | undefined) ?? []) violations.add(`lost input #${id} (terminal client)`);
    }
    for (const v of auditFailures(result)) violations.add(v);
    report.player_inputs = result.playerInputs;
    report.scene_exits = result.sceneExits;
    report.checkpoints = result.checkpoints;
    report.sessions = result.sessions;
    return result;
  };

  /** Starts an engine child, recovers the database, audits it. Null when it was killed or failed to start. */
  const recoverAndAudit = async (killDuringStartup: number | null): Promise<Child | null> => {
    const child = new Child(['engine-stdio'], env, onLine, checkAnswers);
    const ready = child.waitFor((l) => l.type === 'ready');
    if (killDuringStartup !== null) {
      // Uniform over start-up and recovery (opening the database, migrations, re-running unanswered turns).
      const timer = setTimeout(() => void child.kill(), killDuringStartup);
      const first = await ready;
      if (first) child.send({ op: 'recover' });
      await child.exited;
      clearTimeout(timer);
      report.kills.startup += 1;
      return null;
    }
    const first = await ready;
    if (!first) {
      if (options.driver === 'pglite') report.pglite_reopen_failures += 1;
      report.child_errors += 1;
      log(`child did not start: ${child.stderr.slice(-2000)}`);
      return null;
    }
    const recovered = child.waitFor((l) => l.type === 'recovered' || (l.type === 'error' && l.op === 'recover'));
    child.send({ op: 'recover' });
    // A recovery that never settles is a failure of its own, not a hang of the harness.
    const outcome = await Promise.race([recovered, delay(RECOVERY_LIMIT_MS).then(() => 'timeout' as const)]);
    if (!outcome || outcome === 'timeout' || outcome.type !== 'recovered') {
      report.child_errors += 1;
      violations.add(`recovery did not settle (${outcome === 'timeout' ? 'timeout' : JSON.stringify(outcome)})`);
      log(`recovery failed: ${JSON.stringify(outcome)} ${child.stderr.slice(-2000)}`);
      await child.kill();
      return null;
    }
    await audit(child);
    return child;
  };

  /** Sends inputs to the live sessions: bursts, random gaps, some on an answer's arrival. */
  const drive = async (child: Child, until: Promise<unknown>, budgetMs: number): Promise<void> => {
    let stop = false;
    const stopped = until.then(() => {
      stop = true;
      return null;
    });
    // Every wait also ends when the trial does (a child frozen at a fault point answers nothing more).
    const orStop = <T>(p: Promise<T>): Promise<T | null> => Promise.race([p, stopped]);
    const deadline = Date.now() + budgetMs;
    const live = () => [...sessions.values()].filter((s) => !s.ended);
    const create = async (): Promise<boolean> => {
      const created = child.waitFor((l) => l.type === 'created' || (l.type === 'error' && l.op === 'create'));
      child.send({ op: 'create' });
      const line = await orStop(created);
      if (!line || line.type !== 'created' || stop) return false;
      sessions.set(line.sessionId as string, { id: line.sessionId as string, next: 0, ended: false, unacked: new Map() });
      return true;
    };
    while (live().length < (options.sessions ?? 2)) if (!(await create())) return;
    const sendOne = (s: SessionPlay) => {
      const text = random() < 0.75 && s.next < PLAYTHROUGH.length ? (PLAYTHROUGH[s.next++] as string) : (DETOURS[Math.floor(random() * DETOURS.length)] as string);
      const clientInputId = `c${++seq}`;
      s.unacked.set(clientInputId, text);
      child.send({ op: 'input', sessionId: s.id, clientInputId, text });
    };
    // A client that reconnects retransmits what was never acknowledged, with the same ids.
    for (const s of live()) for (const [clientInputId, text] of s.unacked) child.send({ op: 'input', sessionId: s.id, clientInputId, text });
    while (!stop && Date.now() < deadline && child.process.exitCode === null) {
      const active = live();
      if (active.length === 0) {
        if (!(await create())) return;
        continue;
      }
      const s = active[Math.floor(random() * active.length)] as SessionPlay;
      const burst = 1 + Math.floor(random() * 4);
      for (let i = 0; i < burst; i++) sendOne(s);
      if (random() < 0.5) {
        // The next input goes out the moment this session answers (on a scene's last turn sometimes).
        const answered = await orStop(Promise.race([child.waitFor((l) => l.type === 'answer' && l.sessionId === s.id), delay(400)]));
        if (answered && !stop) sendOne(s);
      } else {
        await orStop(delay(Math.floor(random() * 250)));
      }
    }
  };

  // Every trial starts a new child (which recovers what the previous kill left) and ends with a kill.
  let child: Child | null = null;
  for (let trial = 1; trial <= options.trials; trial++) {
    const kind: KillKind =
      options.cliEvery && trial % options.cliEvery === 0 ? 'cli' : (['startup', 'random', 'random', 'fault', 'fault'] as const)[Math.floor(random() * 5)] ?? 'random';
    if (kind === 'startup') {
      await recoverAndAudit(Math.floor(random() * 6_000));
      report.trials += 1;
      log(`trial ${trial} ${options.driver}: killed during start-up/recovery`);
      continue;
    }
    child = await recoverAndAudit(null);
    if (!child) continue;
    if (kind === 'cli') {
      // The terminal client on the same database: it resumes the newest unfinished game.
      child.send({ op: 'shutdown' });
      await child.exited;
      child = null;
      const cli = new Child(['play'], env, onLine);
      const lines = [...PLAYTHROUGH.slice(0, 4), ...DETOURS.slice(0, 3)];
      const killAt = 2_000 + Math.floor(random() * 6_000);
      const timer = setTimeout(() => void cli.kill(), killAt);
      for (const text of lines) {
        if (cli.process.exitCode !== null || cli.process.signalCode !== null) break;
        cli.send(text);
        await delay(Math.floor(random() * 600));
      }
      await cli.kill();
      clearTimeout(timer);
      report.kills.cli += 1;
      report.trials += 1;
      log(`trial ${trial} ${options.driver}: terminal client killed at ${killAt} ms`);
      continue;
    }
    if (kind === 'fault') {
      const point = FAULT_POINTS[Math.floor(random() * FAULT_POINTS.length)] as FaultPoint;
      child.send({ op: 'arm', point });
      const reached = child.waitFor((l) => l.type === 'fault');
      await drive(child, reached, 6_000);
      const hit = await Promise.race([reached, delay(50).then(() => null)]);
      await child.kill();
      if (hit) {
        report.kills.fault += 1;
        report.fault_points_reached[point] = (report.fault_points_reached[point] ?? 0) + 1;
        log(`trial ${trial} ${options.driver}: SIGKILL at fault point ${point}`);
      } else {
        report.kills.random += 1;
        log(`trial ${trial} ${options.driver}: ${point} not reached in time; SIGKILL at the end of play`);
      }
    } else {
      const killAt = Math.floor(random() * 2_500);
      const killed = delay(killAt);
      await drive(child, killed, killAt);
      await child.kill();
      report.kills.random += 1;
      log(`trial ${trial} ${options.driver}: SIGKILL after ${killAt} ms of play`);
    }
    child = null;
    report.trials += 1;
  }
  // The last trial's kill is recovered and audited too.
  child = await recoverAndAudit(null);
  if (child) {
    child.send({ op: 'shutdown' });
    await child.exited;
  }

  report.acked_inputs = acked.size + cliAcked.size;
  report.violations = [...violations].sort();
  report.lost_inputs = report.violations.filter((v) => v.startsWith('lost input')).length;
  report.unanswered_inputs = report.violations.filter((v) => v.startsWith('unanswered')).length;
  report.duplicate_turns = report.violations.filter((v) => / answered \d+ times/.test(v)).length;
  report.inconsistent_checkpoints = report.violations.filter((v) => v.includes('differs from the replay')).length;
  report.broken_scene_exits = report.violations.filter((v) => v.startsWith('scene exit')).length;
  report.seconds = Math.round((Date.now() - started) / 1000);
  return report;
}

/** True when every guarantee held in the report. */
export function reportHolds(r: DriverReport): boolean {
  return (
    r.lost_inputs === 0 &&
    r.unanswered_inputs === 0 &&
    r.duplicate_turns === 0 &&
    r.inconsistent_checkpoints === 0 &&
    r.broken_scene_exits === 0 &&
    r.pglite_reopen_failures === 0 &&
    r.child_errors === 0 &&
    r.violations.length === 0
  );
}
