import { describe, expect, it } from 'vitest';
import { assign, createActor, sendTo, setup, SimulatedClock, waitFor } from 'xstate';
import { createAgentLogic, DEFAULT_TIMEOUTS, runGuarded, runGuardedLazily, type NarratorChunk } from '../../../src/actors/agent-actor.ts';
import { FaultHalt } from '../../../src/engine/fault-points.ts';
import type { SceneBehaviour } from '../../../src/actors/behaviour.ts';
import { createPersistenceLogic, type DurableRecord, type SessionStorage } from '../../../src/actors/persistence.ts';
import { sceneChildIds } from '../../../src/actors/session-children.ts';
import { emptyTruthSet, applyEvents } from '../../../src/domain/truth-set.ts';
import type { NewEvent } from '../../../src/domain/events.ts';
import { sessionMachine } from '../../../src/machines/session.ts';
import { stamp } from '../../../src/machines/turn-events.ts';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';

/**
 * Pure unit tests of the session machine: an in-memory SessionStorage fake stands in
 * for the database (integration tests use real PostgreSQL). Promises the test controls
 * decide when an input becomes durable.
 */
function memoryStorage() {
  let ts = 0;
  let id = 0;
  const ledger: DurableRecord[] = [];
  const inputGates: Array<() => void> = [];
  let holdInputs = false;
  const storage: SessionStorage = {
    async appendInput(req) {
      if (holdInputs) await new Promise<void>((r) => inputGates.push(r));
      const record = { type: 'PlayerInput', data: { clientInputId: req.clientInputId, text: req.text }, narrativeTs: ++ts, id: ++id, turn: req.turn, sceneId: req.sceneId } as DurableRecord;
      ledger.push(record);
      return { id: record.id ?? 0, narrativeTs: record.narrativeTs, duplicate: false, record };
    },
    async appendEvents(_sessionId, events: NewEvent[]) {
      const records = events.map((e) => ({ type: e.type, data: e.data, narrativeTs: ++ts, id: ++id, turn: e.turn ?? null, sceneId: e.sceneId ?? null, key: e.idempotencyKey }) as DurableRecord);
      ledger.push(...records);
      return records;
    },
    async flush() {},
    async writeSceneExit(w) {
      // Like the real exit transaction: every row after the captured truth set is folded.
      const exited = { type: 'SceneExited', data: { sceneId: w.sceneId, sceneKey: w.sceneKey, reason: w.reason, nextSceneKey: w.plan.nextSceneKey }, narrativeTs: ++ts, id: ++id } as DurableRecord;
      ledger.push(exited);
      return { checkpointId: 'cp-1', records: [exited], truthSet: applyEvents(w.truthSet, ledger.filter((r) => r.narrativeTs > w.truthSet.lastNarrativeTs)) };
    },
    async writeCheckpoint() {
      return { checkpointId: 'cp-2' };
    },
    async updateStatus() {},
    async loadTruthSet() {
      return applyEvents(emptyTruthSet(), ledger);
    },
    async loadSession() {
      return { storyId: 'minimal', status: 'active', truthSet: emptyTruthSet(), turn: 0, sceneIndex: 0, sceneKey: null, entityState: null, worldState: null, deferredResults: [], pendingInputs: [], graceDeadline: null, checkpointId: null, exitRequest: null };
    },
  };
  return {
    storage,
    ledger,
    hold: () => (holdInputs = true),
    release: () => {
      holdInputs = false;
      inputGates.splice(0).forEach((r) => r());
    },
  };
}

describe('session machine (pure, in-memory storage)', () => {
  it('emits ack only after the input is durable, then runs the turn in the seed order', async () => {
    const calls: string[] = [];
    const base = createMinimalBehaviour({ onCall: (m) => calls.push(m) });
    const mem = memoryStorage();
    const { fromPromise } = await import('xstate');
    const { runGuarded: guarded } = await import('../../../src/actors/agent-actor.ts');
    const clock = new SimulatedClock();
    const machine = sessionMachine.provide({
      actors: {
        loadSession: fromPromise(async () => ({ ...(await mem.storage.loadSession('s')), sceneKey: 'harbour' })),
        sceneStep: fromPromise(({ input, signal }) => guarded((s) => (base[input.step] as (r: unknown) => Promise<unknown>)({ ...input.request, signal: s }), { clock, timeoutMs: 1000, parentSignal: signal }).promise),
        planSceneExit: fromPromise(({ input }) => Promise.resolve({ ok: true as const, value: input.fallback, ms: 0 })),
        persistence: createPersistenceLogic({ storage: mem.storage, fault: () => undefined }),
        agent: createAgentLogic({ behaviour: base, clock, timeouts: DEFAULT_TIMEOUTS }),
      },
    });
    const actor = createActor(machine, { input: { sessionId: '00000000-0000-4000-8000-000000000001', epoch: 1, gracePeriodMs: 1000 }, clock });
    const emitted: string[] = [];
    for (const type of ['ack', 'answer', 'turnRecorded'] as const) actor.on(type, (e) => emitted.push(type === 'ack' ? `ack:${(e as { clientInputId: string }).clientInputId}` : type));
    actor.start();
    await new Promise<void>((r) => actor.on('sceneEntered', () => r()));
    expect(Object.keys(actor.getSnapshot().children).sort()).toEqual(['persistence', ...sceneChildIds(['mara'])].sort());

    mem.hold();
    actor.send({ type: 'input', clientInputId: 'c-1', text: 'hello' });
    await new Promise((r) => setImmediate(r));
    expect(emitted).toEqual([]); // not durable yet → no ack, no turn
    expect(actor.getSnapshot().matches({ lifecycle: { playing: 'idle' } })).toBe(true);
    mem.release();
    await new Promise<void>((r) => actor.on('turnRecorded', () => r()));
    expect(emitted).toEqual(['ack:c-1', 'answer', 'turnRecorded']);
    const turnCalls = calls.slice(calls.indexOf('stage1'));
    expect(turnCalls.slice(0, 3)).toEqual(['stage1', 'stage2', 'stage3']);
    // characters, storykeeper, world and stage 4 start together; reconciler after them; narrator last
    expect(new Set(turnCalls.slice(3, 7))).toEqual(new Set(['character', 'storykeeper', 'world', 'stage4']));
    expect(turnCalls.slice(7)).toEqual(['reconciler', 'narrator']);
    const keys = mem.ledger.map((r) => (r as { key?: string }).key).filter(Boolean);
    const inputId = mem.ledger.find((r) => r.type === 'PlayerInput')?.id;
    expect(keys).toContain(`input:${inputId}:turn-completed`);
    expect(keys).toContain(`input:${inputId}:stage2:0`);
    actor.stop();
  });
});

describe('turn events and the agent shell', () => {
  it('derives idempotency keys from the input ledger id', () => {
    const [e] = stamp([{ type: 'SpeechAct', data: { speaker: 'player', content: 'hi' }, source: 'stage2' }], { sceneId: null, turn: 3, inputId: 42, member: 'stage2' });
    expect(e).toMatchObject({ idempotencyKey: 'input:42:stage2:0', turn: 3, inputId: 42, source: 'stage2' });
  });

  it('runGuarded settles with a timeout on the simulated clock and aborts the member', async () => {
    const clock = new SimulatedClock();
    let aborted = false;
    const { promise } = runGuarded(
      (signal) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
      { clock, timeoutMs: 500 },
    );
    clock.increment(499);
    expect(aborted).toBe(false);
    clock.increment(1);
    await expect(promise).resolves.toMatchObject({ ok: false, reason: 'timeout' });
    expect(aborted).toBe(true);
  });

  it('runGuarded reports errors and values, and honours a parent abort', async () => {
    const clock = new SimulatedClock();
    await expect(runGuarded(() => Promise.reject(new Error('boom')), { clock, timeoutMs: 10 }).promise).resolves.toMatchObject({ ok: false, reason: 'error', message: 'boom' });
    await expect(runGuarded(async () => 7, { clock, timeoutMs: 10 }).promise).resolves.toMatchObject({ ok: true, value: 7 });
    const parent = new AbortController();
    let seen: AbortSignal | undefined;
    void runGuarded((signal) => ((seen = signal), new Promise(() => undefined)), { clock, timeoutMs: 10, parentSignal: parent.signal });
    parent.abort();
    expect(seen?.aborted).toBe(true);
  });

  it('runGuardedLazily: a signal first read after a timeout or an abort is already aborted; one read before is aborted then', async () => {
    const clock = new SimulatedClock();
    let late: (() => AbortSignal) | undefined;
    const timedOut = runGuardedLazily((signal) => ((late = signal), new Promise<never>(() => undefined)), { clock, timeoutMs: 5 });
    clock.increment(5);
    await expect(timedOut.promise).resolves.toMatchObject({ ok: false, reason: 'timeout' });
    expect(late?.().aborted).toBe(true);
    expect((late?.().reason as Error).message).toBe('timeout');

    let early: AbortSignal | undefined;
    const cancelled = runGuardedLazily((signal) => ((early = signal()), new Promise<never>(() => undefined)), { clock, timeoutMs: 1_000 });
    expect(early?.aborted).toBe(false);
    cancelled.abort();
    expect(early?.aborted).toBe(true);
  });

  it('the agent shell hands members a request whose signal is a live AbortSignal', async () => {
    const clock = new SimulatedClock();
    let seen: unknown;
    const behaviour: SceneBehaviour = {
      ...createMinimalBehaviour(),
      character: async (req) => {
        seen = { aborted: req.signal.aborted, isSignal: req.signal instanceof AbortSignal, characterId: req.characterId, spread: { ...req }.signal === req.signal };
        return { output: null, events: [] };
      },
    };
    // A parent that asks its one agent child and keeps the reply.
    const parent = setup({ actors: { agent: createAgentLogic({ behaviour, clock, timeouts: DEFAULT_TIMEOUTS }) } }).createMachine({
      context: { replies: 0 },
      invoke: { src: 'agent', id: 'character:mara', input: { role: 'character', characterId: 'mara' } },
      entry: sendTo('character:mara', { type: 'agent.run', requestId: 'r1', request: {} as never }),
      on: { 'agent.done': { actions: assign({ replies: ({ context }) => context.replies + 1 }) } },
    });
    const actor = createActor(parent).start();
    await waitFor(actor, (s) => s.context.replies === 1);
    expect(seen).toEqual({ aborted: false, isSignal: true, characterId: 'mara', spread: true });
  });

  it("the narrator's stream goes to onChunk (not through the parent), is counted in its reply, and stops when the run settles", async () => {
    const clock = new SimulatedClock();
    const chunks: NarratorChunk[] = [];
    let late: ((text: string) => void) | null = null;
    const behaviour: SceneBehaviour = {
      ...createMinimalBehaviour(),
      narrator: async (req, onChunk) => {
        onChunk('The tide '); // before the shell's run has even returned
        await Promise.resolve();
        onChunk('turns.');
        late = onChunk;
        return { text: 'The tide turns.', events: [] };
      },
    };
    const parent = setup({ actors: { agent: createAgentLogic({ behaviour, clock, timeouts: DEFAULT_TIMEOUTS, onChunk: (c) => chunks.push(c) }) } }).createMachine({
      context: { events: [] as string[], streamed: -1 },
      invoke: { src: 'agent', id: 'narrator', input: { role: 'narrator' } },
      entry: sendTo('narrator', { type: 'agent.run', requestId: 'r1', request: { session: { sessionId: 's1', storyId: 'x' }, input: { inputId: 7 } } as never }),
      on: {
        '*': { actions: assign(({ context, event }) => ({ events: [...context.events, event.type], streamed: 'streamed' in event ? (event.streamed as number) : context.streamed })) },
      },
    });
    const actor = createActor(parent).start();
    await waitFor(actor, (s) => s.context.streamed >= 0);
    expect(chunks).toEqual([
      { sessionId: 's1', inputId: 7, text: 'The tide ' },
      { sessionId: 's1', inputId: 7, text: 'turns.' },
    ]);
    expect(actor.getSnapshot().context).toEqual({ events: ['agent.done'], streamed: 2 });
    (late as unknown as (text: string) => void)('a stale token');
    expect(chunks).toHaveLength(2);
  });

  it('a fault point hit in the stream (FaultHalt) ends it there without failing the narrator', async () => {
    const clock = new SimulatedClock();
    let halted = false;
    let after = 'not reached';
    const behaviour: SceneBehaviour = {
      ...createMinimalBehaviour(),
      narrator: async (_req, onChunk) => {
        onChunk('first');
        after = 'the narrator went on';
        return { text: 'first', events: [] };
      },
    };
    const logic = createAgentLogic({
      behaviour,
      clock,
      timeouts: DEFAULT_TIMEOUTS,
      halted: () => halted,
      onChunk: () => {
        halted = true;
        throw new FaultHalt('turn.duringNarrator');
      },
    });
    const parent = setup({ actors: { agent: logic } }).createMachine({
      context: { replies: 0 },
      invoke: { src: 'agent', id: 'narrator', input: { role: 'narrator' } },
      entry: sendTo('narrator', { type: 'agent.run', requestId: 'r1', request: { session: { sessionId: 's1', storyId: 'x' }, input: { inputId: 1 } } as never }),
      on: { 'agent.done': { actions: assign({ replies: ({ context }) => context.replies + 1 }) } },
    });
    const actor = createActor(parent).start();
    await new Promise((r) => setImmediate(r));
    // The halt did not reach the behaviour as an error; the crashed engine sends no reply.
    expect(after).toBe('the narrator went on');
    expect(actor.getSnapshot().context.replies).toBe(0);
  });

  it('names the per-scene children by systemId', () => {
    expect(sceneChildIds(['mara', 'tomas'])).toEqual(['stage1', 'stage2', 'stage3', 'stage4', 'storykeeper', 'world', 'reconciler', 'narrator', 'character:mara', 'character:tomas']);
  });
});
