import { performance } from 'node:perf_hooks';
import type { SessionInfo, WarmScene } from '../src/actors/behaviour.ts';
import { ledgerHistoryReader } from '../src/actors/scene-history.ts';
import { StoryBehaviour } from '../src/actors/story-behaviour.ts';
import type { Story } from '../src/domain/story/schema.ts';
import type { TruthSet } from '../src/domain/truth-set.ts';
import { SessionEngine, type SessionHandle } from '../src/engine/engine.ts';
import { silentLogger } from '../src/logger.ts';
import { openGraphStore } from '../src/persistence/graph/open-graph-store.ts';
import { migrate } from '../src/persistence/migrations.ts';
import { PgliteDatabase } from '../src/persistence/pglite-database.ts';
import { storeStory, storySource } from '../src/persistence/story-store.ts';

/**
 * Whole turns through the real session engine — statechart, agent child actors, group-committed
 * ledger on an in-memory PGlite, scene exits — with the story behaviour and the scripted LLM:
 * wall time from `input` to `answer`, then until the session is playing again (a scene change
 * included). What `--local` play and `playtest` run. A new session replays `inputs` when one ends.
 */
interface BenchEngine {
  engine: SessionEngine;
  behaviour: StoryBehaviour;
  storyId: string;
  close(): Promise<void>;
}

/** The engine as `--local` wires it: in-memory PGlite, the stored story, the story behaviour (scripted LLM). */
async function benchEngine(story: Story): Promise<BenchEngine> {
  const db = await PgliteDatabase.open();
  await migrate(db);
  const graph = await openGraphStore(db, { graphStore: 'sql' });
  const stored = await storeStory(db, graph, story);
  const behaviour = new StoryBehaviour({ stories: storySource(db, { defaultStoryId: stored.storyId }), graph, history: ledgerHistoryReader(db) });
  const engine = new SessionEngine({ db, behaviour, graph, logger: silentLogger, inspect: null, ledgerOptions: { maxPayloadBytes: 65_536, maxBatch: 512, flushMs: 2 } });
  return {
    engine,
    behaviour,
    storyId: stored.storyId,
    async close() {
      await engine.shutdown();
      await graph.close();
      await db.close();
    },
  };
}

/** A new session of `story` entered by the engine: its warm opening scene and truth set, to time the stages on. */
export async function openEngineScene(story: Story): Promise<{ behaviour: StoryBehaviour; scene: WarmScene; truthSet: TruthSet; session: SessionInfo; close(): Promise<void> }> {
  const b = await benchEngine(story);
  const h = await fresh(b.engine, b.storyId);
  const { context } = h.actor.getSnapshot();
  if (!context.truthSet) throw new Error('the session has no truth set');
  return { behaviour: b.behaviour, scene: context.warm as WarmScene, truthSet: context.truthSet, session: { sessionId: h.id, storyId: b.storyId }, close: () => b.close() };
}

/**
 * Scene entry as the engine times it: `n` new sessions (after `warmup` more) open in the
 * story's start scene; each sample is the sum of the six steps' times (`sceneEntered.timings`).
 */
export async function sceneEntrySamples(story: Story, n: number, warmup: number): Promise<{ wall: number[]; cpu: number[]; castSize: number }> {
  const b = await benchEngine(story);
  const wall: number[] = [];
  const cpu: number[] = [];
  let castSize = 0;
  try {
    for (let i = -warmup; i < n; i++) {
      const c0 = process.cpuUsage();
      const h = await b.engine.createSession({ storyId: b.storyId });
      const entered = await new Promise<Record<string, number>>((resolve) => {
        const off = h.on('sceneEntered', (e) => {
          off();
          resolve(e.timings);
        });
      });
      const c = process.cpuUsage(c0);
      await playing(h);
      castSize = (h.actor.getSnapshot().context.warm.definition?.cast ?? []).length;
      await b.engine.stop(h.id);
      if (i < 0) continue;
      wall.push(Object.values(entered).reduce((a, x) => a + x, 0));
      cpu.push((c.user + c.system) / 1000);
    }
  } finally {
    await b.close();
  }
  return { wall, cpu, castSize };
}

export async function engineTurnSamples(story: Story, inputs: readonly string[], turns: number): Promise<number[]> {
  const db = await PgliteDatabase.open();
  await migrate(db);
  const graph = await openGraphStore(db, { graphStore: 'sql' });
  const stored = await storeStory(db, graph, story);
  const behaviour = new StoryBehaviour({ stories: storySource(db, { defaultStoryId: stored.storyId }), graph, history: ledgerHistoryReader(db) });
  const engine = new SessionEngine({ db, behaviour, graph, logger: silentLogger, inspect: null, ledgerOptions: { maxPayloadBytes: 65_536, maxBatch: 512, flushMs: 2 } });
  const samples: number[] = [];
  try {
    let handle = await fresh(engine, stored.storyId);
    for (let i = 0; i < turns; i++) {
      if (handle.lifecycle !== 'playing') handle = await fresh(engine, stored.storyId);
      const text = inputs[i % inputs.length] as string;
      const t0 = performance.now();
      await answered(handle, `e${i}`, text);
      samples.push(performance.now() - t0);
    }
  } finally {
    await engine.shutdown();
    await graph.close();
    await db.close();
  }
  return samples;
}

async function fresh(engine: SessionEngine, storyId: string): Promise<SessionHandle> {
  const h = await engine.createSession({ storyId });
  await playing(h);
  return h;
}

function answered(h: SessionHandle, clientInputId: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const offs = [
      h.on('answer', (a) => a.clientInputId === clientInputId && done(() => playing(h).then(resolve))),
      h.on('inputRejected', (r) => r.clientInputId === clientInputId && done(() => reject(new Error(r.error.code)))),
      h.on('failed', (f) => done(() => reject(new Error(f.error.code)))),
    ];
    const done = (then: () => void) => {
      for (const off of offs) off();
      then();
    };
    h.input(clientInputId, text);
  });
}

function playing(h: SessionHandle): Promise<void> {
  const ok = () => ['playing', 'ended', 'failed', 'suspended'].includes(h.lifecycle);
  return new Promise((resolve) => {
    if (ok()) return resolve();
    const sub = h.actor.subscribe(() => {
      if (!ok()) return;
      sub.unsubscribe();
      resolve();
    });
  });
}
