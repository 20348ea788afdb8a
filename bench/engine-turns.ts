import { performance } from 'node:perf_hooks';
import { ledgerHistoryReader } from '../src/actors/scene-history.ts';
import { StoryBehaviour } from '../src/actors/story-behaviour.ts';
import type { Story } from '../src/domain/story/schema.ts';
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
