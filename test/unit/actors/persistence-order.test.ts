import { describe, expect, it } from 'vitest';
import { assign, createActor, setup, type AnyActorRef } from 'xstate';
import {
  createPersistenceLogic,
  type DurableInput,
  type DurableRecord,
  type PersistenceReply,
  type PersistenceRequest,
  type SceneExitWritten,
  type SessionStorage,
} from '../../../src/actors/persistence.ts';
import { emptyTruthSet, type TruthSet } from '../../../src/domain/truth-set.ts';

/**
 * Pure unit tests of the persistence actor's ordering (issue 15 §4): an input append
 * does not wait behind an event batch or a checkpoint; replies that come back out of
 * commit order make the actor rebuild the truth set from the ledger; scene-level writes
 * keep their arrival order with inputs. The
 * storage is an in-memory fake whose writes the test settles one by one.
 */
interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
const settle = () => new Promise<void>((r) => setImmediate(r));

function record(type: string, narrativeTs: number, turn: number): DurableRecord {
  return { type, data: {}, narrativeTs, id: narrativeTs, turn, sceneId: null } as unknown as DurableRecord;
}
function durableInput(ts: number): DurableInput {
  return { id: ts, narrativeTs: ts, duplicate: false, record: record('PlayerInput', ts, 1) };
}
function truthSetAt(ts: number): TruthSet {
  return { ...emptyTruthSet(), lastNarrativeTs: ts };
}

function harness() {
  const inputs: Array<Deferred<DurableInput>> = [];
  const events: Array<Deferred<DurableRecord[]>> = [];
  const exits: Array<Deferred<SceneExitWritten>> = [];
  const loads: Array<Deferred<TruthSet>> = [];
  const checkpoints: TruthSet[] = [];
  const flushes: Array<number | undefined> = [];
  const storage: SessionStorage = {
    appendInput: () => {
      const d = deferred<DurableInput>();
      inputs.push(d);
      return d.promise;
    },
    appendEvents: () => {
      const d = deferred<DurableRecord[]>();
      events.push(d);
      return d.promise;
    },
    flush: (_sessionId, ownerEpoch) => {
      flushes.push(ownerEpoch);
      return Promise.resolve();
    },
    writeSceneExit: () => {
      const d = deferred<SceneExitWritten>();
      exits.push(d);
      return d.promise;
    },
    writeCheckpoint: (w) => {
      checkpoints.push(w.truthSet);
      return Promise.resolve({ checkpointId: 'c' });
    },
    updateStatus: () => Promise.resolve(),
    loadSession: () => Promise.reject(new Error('not used')),
    loadTruthSet: () => {
      const d = deferred<TruthSet>();
      loads.push(d);
      return d.promise;
    },
  };
  const machine = setup({
    types: { context: {} as { got: PersistenceReply[] }, events: {} as PersistenceReply },
    actors: { persistence: createPersistenceLogic({ storage, fault: () => undefined }) },
  }).createMachine({
    context: { got: [] },
    invoke: { id: 'persistence', src: 'persistence', input: { sessionId: '00000000-0000-4000-8000-000000000001' } },
    on: { '*': { actions: assign({ got: ({ context, event }) => [...context.got, event] }) } },
  });
  const actor = createActor(machine).start();
  const child = actor.getSnapshot().children.persistence as AnyActorRef;
  const send = (r: PersistenceRequest) => child.send(r);
  const got = () => actor.getSnapshot().context.got.map((e) => e.type);
  return { inputs, events, exits, loads, checkpoints, flushes, send, got, actor };
}

const input = (n: number): PersistenceRequest => ({ type: 'persist.input', clientInputId: `c-${n}`, text: `line ${n}`, sceneId: null, turn: n, epoch: 1 });
const batch = (n: number): PersistenceRequest => ({ type: 'persist.events', batchId: `turn:${n}:0`, events: [], epoch: 1 });

describe('persistence actor ordering (in-memory storage)', () => {
  it("flushes as the session's owner: its epoch goes with every flush (an older owner's queued writes are not waited on)", async () => {
    const h = harness();
    h.send({ ...input(1), epoch: 3 } as PersistenceRequest);
    h.inputs[0]!.resolve(durableInput(11));
    await settle();
    h.send({ type: 'persist.reloadTruthSet' });
    await settle();
    h.loads[0]!.resolve(truthSetAt(11));
    await settle();
    h.send({ type: 'persist.checkpoint', write: { epoch: 3 } as never });
    await settle();
    expect(h.flushes).toEqual([3, 3]);
    h.actor.stop();
  });

  it("acks an input while the previous turn's event batch is still on its way", async () => {
    const h = harness();
    h.send(batch(1));
    h.send(input(2));
    await settle();
    // Both writes are out at once: the input did not queue behind the batch.
    expect(h.events).toHaveLength(1);
    expect(h.inputs).toHaveLength(1);
    h.inputs[0]!.resolve(durableInput(11));
    await settle();
    expect(h.got()).toEqual(['persist.inputDurable']);
    h.events[0]!.resolve([record('TurnCompleted', 12, 1)]);
    await settle();
    // In commit order: nothing to rebuild.
    expect(h.got()).toEqual(['persist.inputDurable', 'persist.eventsDurable']);
    h.actor.stop();
  });

  it('replies that come back out of commit order: the truth set is rebuilt from the ledger, and replies wait for it', async () => {
    const h = harness();
    h.send(batch(1));
    h.send(input(2));
    await settle();
    h.inputs[0]!.resolve(durableInput(11));
    await settle();
    // The batch committed first (ts 10) but its reply comes second.
    h.events[0]!.resolve([record('TurnCompleted', 10, 1)]);
    await settle();
    expect(h.got()).toEqual(['persist.inputDurable', 'persist.eventsDurable']);
    expect(h.loads).toHaveLength(1);
    // An input coming back meanwhile waits for the rebuild.
    h.send(input(3));
    await settle();
    h.inputs[1]!.resolve(durableInput(13));
    await settle();
    expect(h.got()).toHaveLength(2);
    // A checkpoint asked for meanwhile (the machine's truth set may miss a row) is taken from the ledger's replay.
    h.send({ type: 'persist.checkpoint', write: { type: 'autosave', sessionId: 's', epoch: 1, sceneId: 'x', turn: 1, truthSet: truthSetAt(12), entityState: null, worldState: null, sessionState: { sceneIndex: 0, sceneKey: null, reason: 'autosave', ended: false } } });
    await settle();
    h.loads[0]!.resolve(truthSetAt(11));
    await settle();
    expect(h.got().slice(0, 4)).toEqual(['persist.inputDurable', 'persist.eventsDurable', 'persist.truthSetRebuilt', 'persist.inputDurable']);
    const rebuilt = h.actor.getSnapshot().context.got[2] as Extract<PersistenceReply, { type: 'persist.truthSetRebuilt' }>;
    expect(rebuilt.truthSet.lastNarrativeTs).toBe(11);
    expect(h.loads).toHaveLength(2);
    h.loads[1]!.resolve(truthSetAt(13));
    await settle();
    expect(h.checkpoints.map((t) => t.lastNarrativeTs)).toEqual([13]);
    expect(h.got().at(-1)).toBe('persist.checkpointDone');
    h.actor.stop();
  });

  it('a scene exit waits for an input already on its way, and an input typed after the exit waits for the exit (arrival order kept)', async () => {
    const h = harness();
    h.send(input(1));
    h.send({ type: 'persist.sceneExit', write: {} as never });
    await settle();
    expect(h.inputs).toHaveLength(1);
    expect(h.exits).toHaveLength(0);
    h.send(input(2));
    await settle();
    // A scene-level write does not commute with an input: the second input queues behind the exit.
    expect(h.inputs).toHaveLength(1);
    h.inputs[0]!.resolve(durableInput(21));
    await settle();
    expect(h.got()).toEqual(['persist.inputDurable']);
    expect(h.exits).toHaveLength(1);
    expect(h.inputs).toHaveLength(1);
    h.exits[0]!.resolve({ checkpointId: 'x', records: [], truthSet: truthSetAt(22) });
    await settle();
    expect(h.inputs).toHaveLength(2);
    h.inputs[1]!.resolve(durableInput(23));
    await settle();
    expect(h.got()).toEqual(['persist.inputDurable', 'persist.sceneExitDone', 'persist.inputDurable']);
    h.actor.stop();
  });

  it("an input waits behind a scene-entry batch (SceneEntered clears the momentary part), not behind a turn's", async () => {
    const h = harness();
    h.send({ type: 'persist.events', batchId: 'scene:0', events: [], epoch: 1 });
    h.send(input(1));
    await settle();
    expect(h.inputs).toHaveLength(0);
    h.events[0]!.resolve([record('SceneEntered', 1, 0)]);
    await settle();
    expect(h.inputs).toHaveLength(1);
    h.actor.stop();
  });
});
