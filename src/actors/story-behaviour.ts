import type { LedgerRecordLike } from '../domain/temporal.ts';
import type { TruthSet } from '../domain/truth-set.ts';
import type { FrameComputer } from '../inference/frame/features.ts';
import { RuleFrameComputer } from '../inference/frame/rule-frame-computer.ts';
import type { LlmProvider, LlmRole } from '../inference/llm/provider.ts';
import { ScriptedProvider } from '../inference/llm/scripted.ts';
import { forSession } from '../inference/llm/session-provider.ts';
import type {
  AgentResult,
  CharacterRequest,
  Json,
  NarratorResult,
  SceneBehaviour,
  SceneDefinition,
  SceneEntryRequest,
  SceneExitPlan,
  SceneExitPlanRequest,
  SessionInfo,
  StageResult,
  TurnRequest,
} from './behaviour.ts';
import { characterIntent, type CharacterIntent } from './agents/character.ts';
import { frameHistoryEvent } from './agents/frame-input.ts';
import { describePrediction } from './frame-observer.ts';
import { composeNarration, narrateTurn, type NarrationContext } from './agents/narrator.ts';
import { sequenceIntents } from './agents/reconciler.ts';
import { storyScript } from './agents/scripted-script.ts';
import { progressiveHint } from './agents/hints.ts';
import { storykeeperVerdict } from './agents/storykeeper.ts';
import { baselineApplied, baselineEvents } from './agents/world.ts';
import { earlierHistory, type HistoryAware, type HistorySource } from './scene-history.ts';
import { classifyInput } from './classifiers/stage2.ts';
import { decomposeInput } from './classifiers/decomposition.ts';
import { matchSensitivity } from './classifiers/stage3.ts';
import { deepInterpretation } from './classifiers/stage4.ts';
import { characterTurn } from './story/character-turn.ts';
import { narrationContext } from './story/narration-context.ts';
import { StoryParser } from './story/parsing.ts';
import * as entry from './story/scene-entry.ts';
import { planSceneExit } from './story/scene-exit-plan.ts';
import type { StorykeeperOutput, StoryBehaviourServices, WorldOutput } from './story/types.ts';
import { factEventsOf, historyNeedsOf, storykeeperOutputOf, truthOf, warmOf, withInput, worldTurnOf } from './story/warm.ts';

export type { NarratorWarm, StorykeeperOutput, StoryBehaviourServices, StorySceneData, WorldOutput } from './story/types.ts';
export { describeAct } from './story/describe-act.ts';

/**
 * The real `SceneBehaviour` (src/actors/behaviour.ts): scene entry in six steps, the turn
 * through classifier stages 1–4 and the agents, scene exit planning — built from the
 * story modules. Process services come through the constructor; everything crossing the
 * seam is plain JSON. Without an LLM router it speaks through the story-aware
 * `ScriptedProvider`, so a story plays offline.
 *
 * This class is the seam only; each concern is its own module under src/actors/story/:
 * scene entry (scene-entry.ts), parsing and pronouns (parsing.ts), what a character agent is
 * given (character-turn.ts), the act said back (describe-act.ts), the narrator's boundary
 * (narration-context.ts), the scene-exit plan (scene-exit-plan.ts), reading the seam (warm.ts).
 *
 * @example
 * const behaviour = new StoryBehaviour({ stories: async () => story });
 * const engine = new SessionEngine({ db, behaviour });
 */
const scripted = new ScriptedProvider({ script: storyScript });
const defaultLlm = { forRole: (_role: LlmRole): LlmProvider => scripted };

export class StoryBehaviour implements SceneBehaviour, HistoryAware {
  readonly timeouts: { stage1: number; stage2: number; stage3: number; stage4: number; character: number; storykeeper: number; world: number; reconciler: number; narrator: number };
  readonly #services: StoryBehaviourServices;
  readonly #llm: { forRole(role: LlmRole): LlmProvider };
  readonly #frames: FrameComputer;
  readonly #parser = new StoryParser();
  readonly #entry: entry.SceneEntryDeps;
  /** History sources attached for single sessions, by session id. */
  readonly #attached = new Map<string, HistorySource>();

  constructor(services: StoryBehaviourServices) {
    this.#services = services;
    this.#llm = services.llm ?? defaultLlm;
    this.#frames = services.frames ?? new RuleFrameComputer();
    this.#entry = { services, frames: this.#frames, earlier: (session, ts, needed) => this.#earlier(session, ts, needed) };
    // With a classifier, stage 1 may wait for it (then answers by the rules): its member timeout covers that wait.
    const stage1 = services.classifier ? (services.classifierTimeoutMs ?? 1_500) + 300 : 200;
    this.timeouts = { stage1, stage2: 200, stage3: 200, stage4: 15_000, character: 20_000, storykeeper: 2_000, world: 2_000, reconciler: 1_000, narrator: 60_000 };
  }

  /** A history source for one session (a behaviour built without `services.history`, e.g. in tests). */
  attachHistory(sessionId: string, source: HistorySource): void {
    this.#attached.set(sessionId, source);
  }

  /**
   * The session's rows up to `ts` (from its start) when `needed` — i.e. when the scene has a
   * temporal condition at this evaluation point — else none, at no cost. A failed read
   * throws: the runtime marks the member degraded rather than evaluating on a partial past.
   */
  async #earlier(session: SessionInfo, ts: TruthSet, needed: boolean): Promise<LedgerRecordLike[]> {
    if (!needed) return [];
    const source = this.#attached.get(session.sessionId) ?? this.#services.history;
    return source ? earlierHistory(source, session.sessionId, ts.lastNarrativeTs) : [];
  }

  async openingSceneKey(session: SessionInfo): Promise<string> {
    return (await this.#services.stories(session.storyId)).start;
  }

  // ---------------------------------------------------------------- scene entry (src/actors/story/scene-entry.ts)

  loadSceneDefinition(req: SceneEntryRequest): Promise<SceneDefinition> {
    return entry.loadSceneDefinition(this.#entry, req);
  }

  loadEntityState(req: SceneEntryRequest): Promise<Json> {
    return entry.loadEntityState(this.#entry, req);
  }

  loadGraphContext(req: SceneEntryRequest): Promise<Json> {
    return entry.loadGraphContext(this.#entry, req);
  }

  computeFrames(req: SceneEntryRequest): Promise<Json> {
    return entry.computeFrames(this.#entry, req);
  }

  buildSensitivityMap(req: SceneEntryRequest): Promise<Json> {
    return entry.buildSensitivityMap(this.#entry, req);
  }

  warmNarratorContext(req: SceneEntryRequest): Promise<Json> {
    return entry.warmNarratorContext(this.#entry, req);
  }

  // ---------------------------------------------------------------- the turn

  async stage1(req: TurnRequest): Promise<StageResult> {
    const rules = this.#parser.parse(req);
    const classifier = this.#services.classifier;
    if (!classifier) return { output: rules, events: [] };
    const parsed = await decomposeInput(forSession(classifier, req.session.sessionId, req.input.turn), req.input.text, rules, this.#parser.lexicon(req.scene).entries, {
      timeoutMs: this.#services.classifierTimeoutMs ?? 1_500,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    return { output: parsed, events: [] };
  }

  async stage2(req: TurnRequest): Promise<StageResult> {
    const w = warmOf(req.scene);
    const ts = truthOf(req.truthSet);
    const history = await this.#earlier(req.session, ts, historyNeedsOf(w.data).stage2);
    const facts = classifyInput(this.#parser.parsedOf(req), { data: w.data, entities: w.entities, cast: w.data.cast, truthSet: ts, history });
    // The story's baseline (who holds what, where things lie) enters the ledger with the first turn.
    const baseline = baselineApplied(ts) ? [] : baselineEvents(w.data.storyId, w.data.baseline);
    return { output: facts, events: [...baseline, ...facts.events] };
  }

  async stage3(req: TurnRequest): Promise<StageResult> {
    const w = warmOf(req.scene);
    const events = matchSensitivity(this.#parser.parsedOf(req), factEventsOf(req), w.sensitivity, { inputId: req.input.inputId, turn: req.input.turn, sceneId: w.data.sceneId });
    return { output: { matches: events.length }, events };
  }

  async stage4(req: TurnRequest): Promise<StageResult> {
    const w = warmOf(req.scene);
    const provisional = (req.results.stage3?.events ?? []).flatMap((e) =>
      e.type === 'InterpretiveJudgment'
        ? [{ id: e.data.id, category: e.data.category, ...(e.data.subject ? { subject: e.data.subject } : {}), confidence: e.data.confidence, description: e.data.description }]
        : [],
    );
    const events = await deepInterpretation(
      this.#llmFor('stage4', req),
      { text: req.input.text, provisional, turn: req.input.turn, sceneId: w.data.sceneId, inputId: req.input.inputId, sceneKey: w.data.sceneKey },
      req.signal,
    );
    return { output: { refined: events.length }, events };
  }

  /** The role's provider, with the session stamped on every request (per-session cost and budgets). */
  #llmFor(role: LlmRole, req: TurnRequest): LlmProvider {
    return forSession(this.#llm.forRole(role), req.session.sessionId, req.input.turn);
  }

  async character(req: CharacterRequest): Promise<AgentResult> {
    const t = await characterTurn({ parser: this.#parser, frames: this.#frames, onFrame: this.#services.onFrame }, req);
    if (!t) return { output: { intent: { action: 'wait', tone: 'neutral' } satisfies CharacterIntent, degraded: false }, events: [] };
    const { intent, degraded } = await characterIntent(this.#llmFor('character', req), t, req.signal);
    // The frame rides along in the output (the inspector shows it); its history entry goes to the truth set.
    // `summary` keeps the prediction readable where the inspector collapses deep objects.
    const frame = t.prediction ? { summary: describePrediction(t.prediction), prediction: t.prediction, text: t.frameText } : null;
    const events = t.history ? [frameHistoryEvent(t.character.id, t.history.before, t.history.after, req.input.turn)] : [];
    return { output: { intent, degraded, frame }, events };
  }

  async storykeeper(req: TurnRequest): Promise<AgentResult> {
    const w = warmOf(req.scene);
    const { ts, inputEvents } = withInput(req);
    const facts = factEventsOf(req);
    const judgments = req.results.stage3?.events ?? [];
    // The same consequences the world agent computes (it runs in parallel), so gates see them this turn.
    const world = worldTurnOf(w, ts, inputEvents, facts);
    // Earlier turns, for temporal gates/goals/exits; this turn's events follow them (storykeeperVerdict).
    const earlier = await this.#earlier(req.session, ts, historyNeedsOf(w.data).turn);
    const verdict = storykeeperVerdict(w.data, w.entities, ts, [...inputEvents, ...facts, ...judgments, ...world.events], earlier);
    const output: StorykeeperOutput = { released: verdict.released, goalsCompleted: verdict.goalsCompleted, exit: verdict.exit, hint: progressiveHint(w.data, w.entities.objects, verdict.truthSet, verdict.history) };
    this.#services.onStorykeeper?.(req.session.sessionId, output);
    const result: AgentResult = { output, events: verdict.events };
    if (verdict.exit) result.sceneExit = { reason: verdict.exit.reason, nextSceneKey: verdict.exit.nextSceneKey };
    return result;
  }

  async world(req: TurnRequest): Promise<AgentResult> {
    const w = warmOf(req.scene);
    const { ts, inputEvents } = withInput(req);
    const turn = worldTurnOf(w, ts, inputEvents, factEventsOf(req));
    const output: WorldOutput = { notes: turn.notes, view: turn.view };
    return { output, events: turn.events };
  }

  async reconciler(req: TurnRequest): Promise<AgentResult> {
    const w = warmOf(req.scene);
    const intents: Record<string, CharacterIntent> = {};
    for (const [id, r] of Object.entries(req.results.characters ?? {})) {
      const intent = (r.output as { intent?: CharacterIntent } | null)?.intent;
      if (intent) intents[id] = intent;
    }
    const sk = storykeeperOutputOf(req);
    const parsed = this.#parser.parsedOf(req);
    const beats = sequenceIntents(intents, { cast: w.data.cast, addressee: parsed.addressee ?? parsed.recipient, releases: sk?.released ?? [] });
    return { output: { beats }, events: [] };
  }

  async narrator(req: TurnRequest, onChunk: (text: string) => void): Promise<NarratorResult> {
    const context = this.narrationContext(req);
    const text = await narrateTurn(this.#llmFor('narrator', req), context, onChunk, req.signal);
    return { text, events: [] };
  }

  fallbackNarration(req: TurnRequest): string {
    return composeNarration(this.narrationContext(req));
  }

  /** What the narrator is allowed to know this turn (the storykeeper's information boundary). */
  narrationContext(req: TurnRequest): NarrationContext {
    return narrationContext(req, this.#parser.parsedOf(req));
  }

  // ---------------------------------------------------------------- scene exit (src/actors/story/scene-exit-plan.ts)

  async planSceneExit(req: SceneExitPlanRequest): Promise<SceneExitPlan> {
    return planSceneExit(req);
  }
}
