import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bridge, type BridgeEvent } from '../../../src/actors/bridge.ts';
import type { SessionEngine } from '../../../src/engine/engine.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { InProcessBus } from '../../../src/workflows/bus.ts';
import { loadTemplate } from '../../../src/workflows/template.ts';
import { RestTransport } from '../../../src/workflows/transport.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { newEngine, next, play, recordingBehaviour, RIPPLE_EXPECTED, seedStory, STORY } from './fixture.ts';

/**
 * `storyteller tasker-local` as its own process (its own process group), SIGKILLed while a
 * step is running: social_graph_ripple's handler has committed its effect but the runner has
 * not recorded the result (STORYTELLER_TASKER_LOCAL_HOLD=social_graph_ripple:after holds it
 * there and says so on stdout). A second process resumes the task: the steps complete before
 * the kill never run again, the held step runs again and finds its effect applied, and every
 * effect is there exactly once. The bridge submits over REST with STORYTELLER_TASKER_TOKEN
 * (the runner requires it) and, with no RabbitMQ here, learns of the completion by
 * reconciliation (GET /v1/tasks/{uuid}, STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS).
 */
describe('tasker-local SIGKILLed mid-DAG, restarted', () => {
  const TOKEN = `kill-test-${randomUUID()}`;
  let tdb: TestDatabase;
  let graph: GraphStore;
  let engine: SessionEngine;
  let bridge: Bridge;
  let port: number;
  const children = new Set<ChildProcess>();

  /** Starts `storyteller tasker-local` in its own process group; resolves when it printed `until`. */
  const startRunner = (env: Record<string, string>, until: RegExp): Promise<{ child: ChildProcess; out: () => string }> => {
    const merged: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: tdb.url, STORYTELLER_HOST: '127.0.0.1', STORYTELLER_TASKER_LOCAL_PORT: String(port), STORYTELLER_TASKER_TOKEN: TOKEN, LOG_LEVEL: 'warn', ...env };
    delete merged.AMQP_URL; // no broker: completions come back by reconciliation
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'tasker-local'], { env: merged, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer) => {
        out += d.toString('utf8');
        if (until.test(out)) resolve({ child, out: () => out });
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.once('exit', (code, signal) => reject(new Error(`tasker-local exited early (${code ?? signal}): ${out}`)));
    });
  };
  const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  const steps = async (sessionId: string) =>
    Object.fromEntries((await tdb.db.query<{ name: string; state: string; attempts: number }>(
      `SELECT s.name, s.state, s.attempts FROM workflow_steps s JOIN workflow_tasks t USING (task_uuid) WHERE t.context->>'session_id' = $1`, [sessionId])).rows.map((r) => [r.name, { state: r.state, attempts: Number(r.attempts) }]));

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    graph = await openGraphStore(tdb.db, { graphStore: 'sql' });
    await seedStory(tdb.db, graph);
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    bridge = new Bridge({
      db: tdb.db, transport: new RestTransport({ taskerUrl: `http://127.0.0.1:${port}`, events: new InProcessBus(), token: TOKEN }), template: loadTemplate().template,
      sessions: { get: (id) => engine.get(id) }, backoff: { baseMs: 20, maxMs: 200 }, pollMs: 50, reconcileAfterMs: 50, inspect: null,
    });
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, []), () => bridge.wake());
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(-(c.pid as number), 'SIGKILL');
    await Promise.all([...children].map(exited));
    await engine.shutdown();
    await bridge.stop();
    await tdb.close();
  });

  it('resumes after the last completed step; completed steps never re-run; effects exactly once', async () => {
    const first = await startRunner({ STORYTELLER_TASKER_LOCAL_HOLD: 'social_graph_ripple:after' }, /listening on/);
    await bridge.start();
    const s = await engine.createSession({ storyId: STORY });
    const held = new Promise<void>((resolve) => first.child.stdout?.on('data', () => /holding social_graph_ripple/.test(first.out()) && resolve()));
    for (let i = 1; i <= 3; i++) await play(s, `c-${i}`, `hello ${i}`); // the harbour exits: relayed to the runner
    await held;

    // Mid-DAG: the ripple's effect is committed, its result is not recorded.
    const atKill = await steps(s.id);
    expect(atKill.deferred_event_resolution).toEqual({ state: 'complete', attempts: 1 });
    expect(atKill.social_graph_ripple).toEqual({ state: 'in_progress', attempts: 1 });
    expect(atKill.narrative_graph_update?.state).toBe('pending');
    expect(atKill.checkpoint?.state).toBe('pending');
    const rippleEffects = await tdb.db.query(`SELECT 1 FROM workflow_effects WHERE session_id = $1 AND step_name = 'social_graph_ripple'`, [s.id]);
    expect(rippleEffects.rows.length).toBeGreaterThan(0);

    process.kill(-(first.child.pid as number), 'SIGKILL');
    await exited(first.child);
    expect(first.child.signalCode).toBe('SIGKILL');

    const applied = next<BridgeEvent>((fn) => { bridge.on('event', fn); return () => bridge.off('event', fn); }, (e) => e.type === 'deferred.applied' && e.sessionId === s.id);
    const second = await startRunner({ STORYTELLER_TASKER_LOCAL_STALE_AFTER_MS: '0' }, /listening on/);
    expect(await applied).toMatchObject({ status: 'complete', via: 'reconcile' });

    const after = await steps(s.id);
    for (const [name, was] of Object.entries(atKill)) {
      if (was.state === 'complete') expect(after[name], `${name} ran again`).toEqual(was); // never re-ran
    }
    expect(after.social_graph_ripple).toEqual({ state: 'complete', attempts: 2 }); // the killed attempt counted
    expect(Object.values(after).every((x) => x.state === 'complete')).toBe(true);

    // Effects exactly once: the ripple (0.12, not 0.24), the off-screen step, one effect row each.
    expect((await graph.relationalSubgraph(s.id, ['tomas', 'player'])).edges.find((e) => e.from === 'tomas' && e.to === 'player')?.affection).toBeCloseTo(RIPPLE_EXPECTED, 6);
    const ines = await tdb.db.query<{ components: { offscreen: { goalProgress: number } } }>(`SELECT components FROM entity_snapshots WHERE session_id = $1 AND entity_id = 'ines'`, [s.id]);
    expect(ines.rows[0]?.components.offscreen.goalProgress).toBe(1);
    const effectRows = await tdb.db.query<{ step_name: string; n: string }>(`SELECT step_name, count(*) AS n FROM workflow_effects WHERE session_id = $1 GROUP BY step_name ORDER BY step_name`, [s.id]);
    expect(Number(effectRows.rows.find((r) => r.step_name === 'social_graph_ripple')?.n)).toBe(rippleEffects.rows.length);
    const cp = await tdb.db.query<{ deferred_status: string; deferred_result: { effects: Array<{ kind: string; key?: string }> } }>(
      `SELECT deferred_status, deferred_result FROM checkpoints WHERE session_id = $1 AND checkpoint_type = 'scene_exit'`, [s.id]);
    expect(cp.rows[0]?.deferred_status).toBe('complete');
    expect(cp.rows[0]?.deferred_result.effects.filter((e) => e.kind === 'world' && e.key === 'time.scenes_elapsed')).toHaveLength(1);
    expect((await tdb.db.query(`SELECT 1 FROM workflow_tasks WHERE context->>'session_id' = $1`, [s.id])).rows).toHaveLength(1);

    second.child.kill('SIGTERM'); // a graceful stop this time
    await exited(second.child);
    expect(second.child.exitCode).toBe(0);
  }, 180_000);
});
