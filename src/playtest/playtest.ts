import { SimulatedClock } from 'xstate';
import type { SceneEntities } from '../actors/scene-model.ts';
import { ledgerHistoryReader } from '../actors/scene-history.ts';
import { StoryBehaviour, type StorySceneData } from '../actors/story-behaviour.ts';
import { endingReachable } from '../checking/ending-reachable.ts';
import { StoryExplorer } from '../checking/story-explorer.ts';
import type { Story } from '../domain/story/schema.ts';
import type { LedgerRecordLike } from '../domain/temporal.ts';
import { emptyTruthSet, reconstructTruthSet, truthSetSchema, type TruthSet } from '../domain/truth-set.ts';
import { SessionEngine, type SessionHandle } from '../engine/engine.ts';
import { silentLogger } from '../logger.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import { migrate } from '../persistence/migrations.ts';
import { PgliteDatabase } from '../persistence/pglite-database.ts';
import { storeStory, storySource } from '../persistence/story-store.ts';
import { helpFor } from '../cli/help.ts';
import { chooseInput, seededRandom, type InputKind, type WalkInput } from './walk-inputs.ts';

/**
 * `storyteller playtest STORY`: seeded random and adversarial walks through the real
 * session engine (statechart, agents, group-committed ledger, scene-exit transactions)
 * with the real `StoryBehaviour`, on an in-memory PGlite database. Each walk is a new
 * session; its inputs mix the story's own with what players actually type
 * (src/playtest/walk-inputs.ts). Walks alternate between guided ones — which follow a
 * way to the ending the explorer finds from where they stand, with adversarial inputs
 * mixed in — and free random ones, so both the whole story and its odd corners are
 * reached; half of each kind are suspended half-way and resumed from the database. The report counts crashes (a failed session, a member that threw, a turn
 * that never answered), refused inputs by error code, the story's own refusals, dead ends
 * (a walk left in a state from which no ending can be reached, proven by the explorer
 * `story check` uses, with the input that led into it), gates and goals no walk reached,
 * and coverage. The LLM roles are the offline scripted ones, so a seed replays exactly.
 *
 * @example
 * const report = await playtest(story, { walks: 4, turns: 30, seed: 1 });
 * report.crashes.length === 0 && report.deadEnds.length === 0
 */
export interface PlaytestOptions {
  walks?: number;
  /** Most inputs per walk (a walk also stops at the story's end). */
  turns?: number;
  seed?: number;
  /** Bound of each dead-end search (distinct states). */
  maxStates?: number;
  /** A turn that has not answered after this long (wall clock) is reported as stuck. */
  turnTimeoutMs?: number;
  /** Progress lines (one per walk). */
  onWalk?: (walk: WalkReport) => void;
}

export interface Crash {
  walk: number;
  turn: number;
  input: string;
  kind: 'session_failed' | 'member_failed' | 'stuck' | 'threw';
  detail: string;
}

export interface DeadEnd {
  walk: number;
  /** The walk's inputs up to and including the one that made the story unfinishable. */
  path: string[];
  scene: string;
}

export interface WalkReport {
  walk: number;
  seed: number;
  turns: number;
  ended: boolean;
  scenes: string[];
  /** 'yes' | 'no' | 'unknown' (bound hit) for the state the walk was left in; 'yes' when it ended. */
  finishable: 'yes' | 'no' | 'unknown';
}

export interface PlaytestReport {
  story: { id: string; title: string };
  seed: number;
  walks: WalkReport[];
  inputs: number;
  inputsByKind: Partial<Record<InputKind, number>>;
  crashes: Crash[];
  /** Inputs the runtime refused before playing them, by error code (e.g. LEDGER_PAYLOAD_INVALID). */
  rejectedByCode: Record<string, number>;
  /** The story's own refusals (ConstraintViolation), by action. */
  storyRefusals: Record<string, number>;
  deadEnds: DeadEnd[];
  /** Walks whose final state the bounded search could not decide. */
  undecided: number;
  coverage: {
    scenes: { reached: string[]; never: string[] };
    gates: { reached: string[]; never: string[] };
    goals: { reached: string[]; never: string[] };
    endings: number;
    /** Distinct inputs typed. */
    distinctInputs: number;
  };
  /** Ended with neither crash nor dead end. */
  ok: boolean;
}

interface TurnOutcome {
  kind: 'answered' | 'rejected' | 'failed' | 'stuck';
  detail: string;
  degraded: string[];
}

export async function playtest(story: Story, options: PlaytestOptions = {}): Promise<PlaytestReport> {
  const walks = options.walks ?? 8;
  const turns = options.turns ?? 40;
  const seed = options.seed ?? 1;
  const db = await PgliteDatabase.open();
  const graph = await (async () => {
    await migrate(db);
    return openGraphStore(db, { graphStore: 'sql' });
  })();
  const stored = await storeStory(db, graph, story);
  const history = ledgerHistoryReader(db);
  const behaviour = new StoryBehaviour({ stories: storySource(db, { defaultStoryId: stored.storyId }), graph, history });
  const clock = new SimulatedClock();
  clock.set(Date.UTC(2026, 0, 1));
  // A simulated clock: no agent timeout fires on a slow machine, so a degraded member means it threw.
  const engine = new SessionEngine({
    db,
    behaviour,
    graph,
    logger: silentLogger,
    inspect: null,
    clocks: { clock, now: () => clock.now() },
    ledgerOptions: { maxPayloadBytes: 65_536, maxBatch: 512, flushMs: 2 },
  });
  const explorer = new StoryExplorer(story);
  const report: PlaytestReport = {
    story: { id: story.id, title: story.title },
    seed,
    walks: [],
    inputs: 0,
    inputsByKind: {},
    crashes: [],
    rejectedByCode: {},
    storyRefusals: {},
    deadEnds: [],
    undecided: 0,
    coverage: { scenes: { reached: [], never: [] }, gates: { reached: [], never: [] }, goals: { reached: [], never: [] }, endings: 0, distinctInputs: 0 },
    ok: false,
  };
  const typed = new Set<string>();
  const reached = { scenes: new Set<string>(), gates: new Set<string>(), goals: new Set<string>() };
  try {
    for (let w = 0; w < walks; w++) {
      const walkSeed = (seed * 1_000_003 + w) >>> 0;
      const rng = seededRandom(walkSeed);
      const walk: WalkReport = { walk: w, seed: walkSeed, turns: 0, ended: false, scenes: [], finishable: 'unknown' };
      const path: string[] = [];
      const guided = w % 2 === 0;
      let plan: string[] = [];
      let offPlan = 0;
      let handle = await engine.createSession({ storyId: stored.storyId });
      await untilPlaying(handle);
      for (let t = 0; t < turns && handle.lifecycle !== 'ended'; t++) {
        if (handle.lifecycle !== 'playing') break;
        // One walk in two leaves half-way and comes back: the session is suspended and reopened from the database.
        if (w % 4 >= 2 && t === Math.floor(turns / 2)) {
          await engine.stop(handle.id);
          handle = await engine.open(handle.id);
          await untilPlaying(handle);
        }
        const at = position(story, handle);
        let input = chooseInput(rng, at);
        if (guided) {
          // Replan when the plan ran out or several inputs off the plan may have moved the story elsewhere.
          if (plan.length === 0 || offPlan >= 4) {
            plan = planFrom(explorer, handle, at.truthSet, options.maxStates);
            offPlan = 0;
          }
          const next = plan[0];
          if (next !== undefined && rng() < 0.65) {
            input = { kind: 'authored', text: next };
            plan.shift();
          } else offPlan += 1;
        }
        report.inputs += 1;
        report.inputsByKind[input.kind] = (report.inputsByKind[input.kind] ?? 0) + 1;
        typed.add(input.text);
        // What the terminal shows for /help must be buildable in every scene.
        if (input.kind === 'meta' && /help/.test(input.text)) helpFor(story, handle.actor.getSnapshot().context.sceneKey ?? story.start);
        const outcome = await playOne(handle, `w${w}-t${t}`, input, options.turnTimeoutMs ?? 120_000);
        walk.turns += 1;
        if (outcome.kind === 'rejected') {
          report.rejectedByCode[outcome.detail] = (report.rejectedByCode[outcome.detail] ?? 0) + 1;
          continue;
        }
        path.push(input.text);
        for (const member of outcome.degraded) report.crashes.push({ walk: w, turn: t, input: input.text, kind: 'member_failed', detail: member });
        if (outcome.kind === 'failed' || outcome.kind === 'stuck') {
          report.crashes.push({ walk: w, turn: t, input: input.text, kind: outcome.kind === 'failed' ? 'session_failed' : 'stuck', detail: outcome.detail });
          break;
        }
      }
      walk.ended = handle.lifecycle === 'ended';
      await engine.stop(handle.id);
      const rows = [...(await history.eventsSince(handle.id, 0))];
      for (const r of rows) {
        if (r.type === 'SceneEntered') {
          walk.scenes.push(r.data.sceneKey);
          reached.scenes.add(r.data.sceneKey);
        } else if (r.type === 'GateFired') reached.gates.add(r.data.gateId);
        else if (r.type === 'GoalCompleted') reached.goals.add(r.data.goalId);
        else if (r.type === 'ConstraintViolation') report.storyRefusals[r.data.action] = (report.storyRefusals[r.data.action] ?? 0) + 1;
      }
      if (walk.ended) {
        walk.finishable = 'yes';
        report.coverage.endings += 1;
      } else if (!report.crashes.some((c) => c.walk === w && c.kind !== 'member_failed')) {
        walk.finishable = finishable(explorer, rows, rows.length, options.maxStates);
        if (walk.finishable === 'unknown') report.undecided += 1;
        if (walk.finishable === 'no') report.deadEnds.push({ walk: w, ...deadEndEntry(explorer, rows, path, options.maxStates) });
      }
      report.walks.push(walk);
      options.onWalk?.(walk);
    }
  } catch (error) {
    report.crashes.push({ walk: report.walks.length, turn: -1, input: '', kind: 'threw', detail: (error as Error).stack ?? String(error) });
  } finally {
    await engine.shutdown();
    await graph.close();
    await db.close();
  }
  const split = (all: string[], got: Set<string>) => ({ reached: all.filter((x) => got.has(x)), never: all.filter((x) => !got.has(x)) });
  report.coverage.scenes = split(story.scenes.map((s) => s.id), reached.scenes);
  report.coverage.gates = split(story.scenes.flatMap((s) => s.gates.map((g) => g.id)), reached.gates);
  report.coverage.goals = split(story.scenes.flatMap((s) => s.goals.map((g) => g.id)), reached.goals);
  report.coverage.distinctInputs = typed.size;
  report.ok = report.crashes.length === 0 && report.deadEnds.length === 0;
  return report;
}

/** Where a walk stands: the warm scene and truth set in the session's context. */
function position(story: Story, handle: SessionHandle) {
  const context = handle.actor.getSnapshot().context;
  const parsed = truthSetSchema.safeParse(context.truthSet);
  return {
    story,
    data: context.warm.definition?.data as StorySceneData,
    entities: context.warm.entities as SceneEntities,
    truthSet: parsed.success ? parsed.data : emptyTruthSet(),
  };
}

async function playOne(handle: SessionHandle, clientInputId: string, input: WalkInput, timeoutMs: number): Promise<TurnOutcome> {
  const offs: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await new Promise<TurnOutcome>((resolve) => {
      offs.push(handle.on('answer', (a) => a.clientInputId === clientInputId && resolve({ kind: 'answered', detail: '', degraded: a.degraded })));
      offs.push(handle.on('inputRejected', (r) => r.clientInputId === clientInputId && resolve({ kind: 'rejected', detail: r.error.code, degraded: [] })));
      offs.push(handle.on('failed', (f) => resolve({ kind: 'failed', detail: `${f.error.code}: ${f.error.message}`, degraded: [] })));
      timer = setTimeout(() => resolve({ kind: 'stuck', detail: `no answer after ${timeoutMs} ms (lifecycle ${handle.lifecycle})`, degraded: [] }), timeoutMs);
      try {
        handle.input(clientInputId, input.text);
      } catch (error) {
        resolve({ kind: 'failed', detail: (error as Error).message, degraded: [] });
      }
    });
    if (outcome.kind === 'answered') await untilPlaying(handle);
    return outcome;
  } finally {
    if (timer) clearTimeout(timer);
    for (const off of offs) off();
  }
}

/** Resolves when the session is playing (after entry or a scene change) or has stopped. */
function untilPlaying(h: SessionHandle): Promise<void> {
  const done = () => ['playing', 'ended', 'failed', 'suspended'].includes(h.lifecycle);
  return new Promise((resolve) => {
    if (done()) return resolve();
    const sub = h.actor.subscribe({
      next: () => {
        if (!done()) return;
        sub.unsubscribe();
        resolve();
      },
      error: () => resolve(),
      complete: () => resolve(),
    });
  });
}

/** A way to an ending from where the session stands (empty when none is found within the bound). */
function planFrom(explorer: StoryExplorer, handle: SessionHandle, ts: TruthSet, maxStates?: number): string[] {
  const context = handle.actor.getSnapshot().context;
  const sceneKey = context.sceneKey;
  const cast = context.warm.definition?.cast;
  if (!sceneKey || !cast) return [];
  const state = explorer.resume(sceneKey, cast, ts, context.turn);
  return endingReachable(explorer, state, maxStates === undefined ? {} : { maxStates }).path ?? [];
}

/** Can the story be finished from the state after the first `upTo` ledger rows? */
function finishable(explorer: StoryExplorer, rows: readonly LedgerRecordLike[], upTo: number, maxStates?: number): WalkReport['finishable'] {
  const prefix = rows.slice(0, upTo);
  if (prefix.some((r) => r.type === 'SceneExited' && r.data.nextSceneKey === null)) return 'yes';
  const entered = [...prefix].reverse().find((r) => r.type === 'SceneEntered');
  if (!entered || entered.type !== 'SceneEntered') return 'unknown';
  const ts: TruthSet = reconstructTruthSet(null, prefix);
  const turn = prefix.filter((r) => r.type === 'PlayerInput').length;
  const state = explorer.resume(entered.data.sceneKey, entered.data.characters, ts, turn, [...prefix]);
  return endingReachable(explorer, state, maxStates === undefined ? {} : { maxStates }).verdict;
}

/**
 * The input that made the walk unfinishable: the dead region is absorbing (nothing
 * reachable from a dead state can finish), so a binary search over the walk's inputs
 * finds the first one after which no ending is reachable.
 */
function deadEndEntry(explorer: StoryExplorer, rows: readonly LedgerRecordLike[], path: string[], maxStates?: number): Omit<DeadEnd, 'walk'> {
  // Row index just before each PlayerInput (the state the player typed it in), and the end.
  const cuts = [...rows.flatMap((r, i) => (r.type === 'PlayerInput' && i > 0 ? [i] : [])), rows.length];
  let lo = 0; // cuts[lo - 1] is finishable (or the start)
  let hi = cuts.length - 1; // cuts[hi] is dead
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (finishable(explorer, rows, cuts[mid] as number, maxStates) === 'no') hi = mid;
    else lo = mid + 1;
  }
  const cut = cuts[hi] as number;
  const inputs = rows.slice(0, cut).filter((r) => r.type === 'PlayerInput').map((r) => (r.type === 'PlayerInput' ? r.data.text : ''));
  const entered = [...rows.slice(0, cut)].reverse().find((r) => r.type === 'SceneEntered');
  return { path: inputs.length > 0 ? inputs : path, scene: entered?.type === 'SceneEntered' ? entered.data.sceneKey : '?' };
}
