import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, createMachine, transition, type InspectionEvent, type StateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { sessionMachine } from '../../../src/machines/session.ts';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';
import { TestingKit, type TestSession } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

/**
 * Model-based test: an abstract model of a session (what a player and an operator can
 * do to it) is traversed with xstate/graph; every path is driven through the REAL
 * session actor on a real database, checking after each step that the real session is
 * in the state the model predicts. `createTestModel` rejects machines with
 * invoke/after, so the model is separate and the real actor is driven by hand.
 */
type ModelEvent =
  | { type: 'PLAY' }
  | { type: 'SAVE' }
  | { type: 'LEAVE' }
  | { type: 'DISCONNECT' }
  | { type: 'RECONNECT' }
  | { type: 'EXPIRE' }
  | { type: 'SHUTDOWN' }
  | { type: 'RESUME' };

const SCENES = ['harbour', 'lighthouse', 'summit'];
const EVENTS: ModelEvent[] = ['PLAY', 'SAVE', 'LEAVE', 'DISCONNECT', 'RECONNECT', 'EXPIRE', 'SHUTDOWN', 'RESUME'].map((type) => ({ type }) as ModelEvent);

const model = createMachine({
  id: 'model',
  types: {} as { context: { scene: number }; events: ModelEvent },
  context: { scene: 0 },
  initial: 'playing',
  states: {
    playing: {
      on: {
        PLAY: { target: 'playing', reenter: true },
        SAVE: { target: 'playing', reenter: true },
        LEAVE: [{ guard: ({ context }) => context.scene < SCENES.length - 1, target: 'playing', reenter: true, actions: assign({ scene: ({ context }) => context.scene + 1 }) }, { target: 'ended' }],
        DISCONNECT: 'disconnected',
        SHUTDOWN: 'suspended',
      },
    },
    disconnected: { on: { RECONNECT: 'playing', EXPIRE: 'suspended' } },
    suspended: { on: { RESUME: 'playing' } },
    ended: { type: 'final' },
  },
});

type ModelSnapshot = ReturnType<typeof model.resolveState>;
const key = (s: ModelSnapshot) => `${String(s.value)}@${s.context.scene}`;

/** Shortest path to every model state, then every enabled event from each: state AND transition coverage. */
function modelPaths(): Array<{ name: string; events: ModelEvent[] }> {
  const shortest = getShortestPaths(model, { events: EVENTS });
  const paths: Array<{ name: string; events: ModelEvent[] }> = [];
  for (const p of shortest) {
    const prefix = p.steps.map((s) => s.event).filter((e) => !e.type.startsWith('xstate.'));
    for (const e of EVENTS) {
      if (!p.state.can(e)) continue;
      paths.push({ name: [...prefix, e].map((x) => x.type).join(' → '), events: [...prefix, e] });
    }
  }
  return paths;
}

/** Every state node id of the real machine (for the coverage check). */
function allStateIds(node: StateNode<any, any>, out: string[] = []): string[] {
  out.push(node.id);
  for (const child of Object.values(node.states)) allStateIds(child, out);
  return out;
}

/** `<source state id>:<event type>` of every transition of the real machine (eventless ones included). */
function allTransitionKeys(node: StateNode<any, any>, out: string[] = []): string[] {
  for (const [eventType, defs] of node.transitions) if (defs.length > 0) out.push(`${node.id}:${eventType}`);
  if (node.always && node.always.length > 0) out.push(`${node.id}:`);
  for (const child of Object.values(node.states)) allTransitionKeys(child, out);
  return out;
}

function activeIds(value: unknown, prefix: string, out: Set<string>): void {
  out.add(prefix);
  if (typeof value === 'string') {
    out.add(`${prefix}.${value}`);
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) activeIds(v, `${prefix}.${k}`, out);
}

/**
 * Transitions the model does not drive (failures, inputs refused in terminal states,
 * restore-only events); each is exercised by the test named beside it.
 */
const OUTSIDE_THE_MODEL: RegExp[] = [
  // Rejected promise actors: behaviour members never reject (runGuarded settles them), so only
  // loadSession (storage) can; a failing scene step is the SCENE_NOT_FOUND path — session-failures.test.ts.
  /:xstate\.error\.actor/,
  /^session:persist\.(inputFailed|failed)$/, // session-failures.test.ts (refused input, lost database)
  /^session\.lifecycle\.loading:input$/, // lifecycle.test.ts (an input sent right after createSession)
  /^session\.lifecycle\.suspending:input$/, // turn-cycle.test.ts (graceful shutdown refuses input)
  // Defensive: the engine releases suspended/ended/failed actors at once, so inputs rarely reach them.
  /^session\.lifecycle\.(suspended|ended|failed):input$/,
  /^session\.connection\.disconnected:connection\.rearm$/, // grace-period.test.ts (snapshot restore)
  /^session\.connection\.expired:reconnect$/, // session-failures.test.ts (reconnect racing the expiry)
  /^session:deferred\.completed$/, // turn-cycle.test.ts (a late deferred result reaches the next scene entry)
  /^session:persist\.truthSetReloaded$/, // unknown-outcome.test.ts (an input whose first append had an unknown outcome)
  /^session:persist\.truthSetRebuilt$/, // test/unit/actors/persistence-order.test.ts (replies out of commit order)
];

describe('model-based paths through the real session actor (pg)', () => {
  let tdb: TestDatabase;
  const visited = new Set<string>();
  const transitions = new Set<string>();
  const inspect = (e: InspectionEvent): void => {
    if (e.type !== '@xstate.microstep' && e.type !== '@xstate.snapshot') return;
    const s = e.snapshot as { value?: unknown; machine?: { id: string } };
    if (s.machine?.id !== 'session') return;
    activeIds(s.value, 'session', visited);
    if (e.type === '@xstate.microstep') for (const t of e._transitions) transitions.add(`${t.source.id}:${t.eventType}`);
  };

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  const paths = modelPaths();

  it('the paths cover every model state and every model transition', () => {
    const states = new Set<string>();
    const edges = new Set<string>();
    for (const p of paths) {
      let s = model.resolveState({ value: 'playing', context: { scene: 0 } });
      states.add(key(s));
      for (const e of p.events) {
        const [next] = transition(model, s, e);
        edges.add(`${key(s)}:${e.type}`);
        s = next;
        states.add(key(s));
      }
    }
    // 3 scenes × {playing, disconnected, suspended} + ended
    expect(states.size).toBe(10);
    // per scene: playing {PLAY, SAVE, LEAVE, DISCONNECT, SHUTDOWN}, disconnected {RECONNECT, EXPIRE}, suspended {RESUME}
    expect(edges.size).toBe(3 * 8);
  });

  it.each(paths.map((p) => [p.name, p] as const))('%s', async (_name, path) => {
    const behaviour = createMinimalBehaviour({ scenes: SCENES.map((k, i) => ({ key: k, cast: i === 1 ? ['mara', 'tomas'] : ['mara'], next: SCENES[i + 1] ?? null, exitAtTurn: 1_000_000 })) });
    const kit = await TestingKit.create({ db: tdb.db, behaviour, inspect });
    let s: TestSession = await kit.createSession();
    await s.whenIdle();
    let abstract = model.resolveState({ value: 'playing', context: { scene: 0 } });
    const id = s.id;
    const dbStatus = async () => (await tdb.db.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [id])).rows[0]?.status;

    for (const e of path.events) {
      const [next] = transition(model, abstract, e);
      switch (e.type) {
        case 'PLAY':
          await s.play('say hello');
          await s.whenIdle();
          break;
        case 'SAVE': {
          const saved = s.next('checkpointed');
          s.handle.save();
          expect((await saved).checkpointType).toBe('manual_save');
          break;
        }
        case 'LEAVE': {
          const outcome = next.value === 'ended' ? s.next('ended') : s.next('sceneEntered');
          s.send('leave now');
          await outcome;
          if (next.value !== 'ended') await s.whenIdle();
          break;
        }
        case 'DISCONNECT':
          s.handle.disconnect();
          break;
        case 'RECONNECT':
          s.handle.reconnect();
          break;
        case 'EXPIRE': {
          const suspended = s.next('suspended');
          kit.advance(5 * 60_000);
          await suspended;
          await Promise.resolve();
          break;
        }
        case 'SHUTDOWN':
          await kit.engine.stop(id);
          await Promise.resolve();
          break;
        case 'RESUME':
          s = await kit.open(id);
          await s.whenIdle();
          break;
      }
      abstract = next;
      // The real session is where the model says.
      switch (abstract.value) {
        case 'playing':
          expect(s.handle.lifecycle).toBe('playing');
          expect(s.handle.connection).toBe('connected');
          expect(s.handle.actor.getSnapshot().context.sceneKey).toBe(SCENES[abstract.context.scene]);
          break;
        case 'disconnected':
          expect(s.handle.lifecycle).toBe('playing');
          expect(s.handle.connection).toBe('disconnected');
          break;
        case 'suspended':
          expect(kit.engine.get(id)).toBeUndefined();
          expect(await dbStatus()).toBe('suspended');
          break;
        case 'ended':
          expect(await dbStatus()).toBe('ended');
          break;
      }
    }
    await kit.shutdown();
  });

  it('together the paths visited every state of the real session machine', () => {
    const expected = allStateIds(sessionMachine.root).filter((id) => id !== 'session.lifecycle.failed');
    const missing = expected.filter((id) => !visited.has(id));
    expect(missing).toEqual([]);
    const allTransitions = allTransitionKeys(sessionMachine.root);
    const untaken = allTransitions.filter((t) => !transitions.has(t) && !OUTSIDE_THE_MODEL.some((re) => re.test(t)));
    expect(untaken).toEqual([]);
  });
});
