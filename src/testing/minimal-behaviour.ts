import { createHash } from 'node:crypto';
import type {
  AgentResult,
  BehaviourMember,
  BehaviourTimeouts,
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
} from '../actors/behaviour.ts';
import { event, type NewEvent } from '../domain/events.ts';

/**
 * A small deterministic SceneBehaviour for tests and benchmarks: a few scenes held in
 * memory; every turn emits simple events (a SpeechAct or an ActionPerformed "take", a
 * provisional judgment, one relationship shift per cast member, a stage-4 judgment),
 * the storykeeper ends a scene at turn `exitAtTurn` (or when the player says
 * "leave"), and the narrator streams two chunks. Faults per member ('throw' | 'hang')
 * exercise the degraded paths.
 *
 * @example
 * const behaviour = createMinimalBehaviour({ faults: { world: 'hang' } });
 * const kit = await TestingKit.create({ db, behaviour });
 */
export interface MinimalScene {
  key: string;
  cast: string[];
  /** Null: the story ends after this scene. */
  next: string | null;
  /**
   * The storykeeper ends the scene at the turn whose (session-wide) number reaches this.
   * Derived from durable state only, so a scene re-entered after a crash or a
   * suspension ends where an uninterrupted run would.
   */
  exitAtTurn: number;
}

export const MINIMAL_SCENES: readonly MinimalScene[] = [
  { key: 'harbour', cast: ['mara'], next: 'lighthouse', exitAtTurn: 3 },
  { key: 'lighthouse', cast: ['mara', 'tomas'], next: 'summit', exitAtTurn: 6 },
  { key: 'summit', cast: [], next: null, exitAtTurn: 8 },
];

export type MemberFault = 'throw' | 'hang';

export interface MinimalBehaviourOptions {
  scenes?: readonly MinimalScene[];
  /** Make a member fail ('throw') or never answer until aborted ('hang'). */
  faults?: Partial<Record<BehaviourMember, MemberFault>>;
  timeouts?: BehaviourTimeouts;
  /** Observes every call (member name), e.g. to count re-runs. */
  onCall?: (member: BehaviourMember, detail: { sessionId: string; inputId?: number }) => void;
}

/** A stable UUID for (story, scene key): the ledger's scene_id. */
export function sceneUuid(storyId: string | null, sceneKey: string): string {
  const h = createHash('sha1').update(`${storyId ?? ''}/${sceneKey}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface SceneData {
  next: string | null;
  exitAtTurn: number;
}

function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(new Error('aborted'));
    signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
}

export function createMinimalBehaviour(options: MinimalBehaviourOptions = {}): SceneBehaviour {
  const scenes = new Map((options.scenes ?? MINIMAL_SCENES).map((s) => [s.key, s]));
  const first = (options.scenes ?? MINIMAL_SCENES)[0]?.key ?? 'harbour';

  /** Applies the configured fault, then runs `fn`. The signal is read only to hang (it is made on first read). */
  async function guard<T>(member: BehaviourMember, signal: () => AbortSignal, detail: { sessionId: string; inputId?: number }, fn: () => T): Promise<T> {
    options.onCall?.(member, detail);
    const fault = options.faults?.[member];
    if (fault === 'throw') throw new Error(`${member} failed (minimal behaviour fault)`);
    if (fault === 'hang') return hang(signal());
    return fn();
  }

  const entry = <T>(member: BehaviourMember, req: SceneEntryRequest, fn: () => T) => guard(member, () => req.signal, { sessionId: req.session.sessionId }, fn);
  const turn = <T>(member: BehaviourMember, req: TurnRequest, fn: () => T) => guard(member, () => req.signal, { sessionId: req.session.sessionId, inputId: req.input.inputId }, fn);
  const data = (req: TurnRequest | SceneExitPlanRequest): SceneData => req.scene.definition.data as SceneData;
  const words = (req: TurnRequest) => req.input.text.trim().toLowerCase().split(/\s+/);

  const behaviour: SceneBehaviour = {
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),

    openingSceneKey: async (_session: SessionInfo) => first,

    loadSceneDefinition: (req) =>
      entry('loadSceneDefinition', req, (): SceneDefinition => {
        const scene = scenes.get(req.sceneKey);
        if (!scene) throw new Error(`no scene ${req.sceneKey}`);
        const d: SceneData = { next: scene.next, exitAtTurn: scene.exitAtTurn };
        return { sceneId: sceneUuid(req.session.storyId, scene.key), sceneKey: scene.key, cast: [...scene.cast], data: d };
      }),
    loadEntityState: (req) => entry('loadEntityState', req, (): Json => ({ carried: req.entityState ?? null, cast: req.warm.definition?.cast ?? [] })),
    loadGraphContext: (req) => entry('loadGraphContext', req, (): Json => ({ edges: [], deferred: req.deferredResults.length })),
    computeFrames: (req) => entry('computeFrames', req, (): Json => Object.fromEntries((req.warm.definition?.cast ?? []).map((c) => [c, { text: `${c} is watchful.` }]))),
    buildSensitivityMap: (req) => entry('buildSensitivityMap', req, (): Json => ({ entries: [{ id: 'leave', pattern: 'leave' }] })),
    warmNarratorContext: (req) => entry('warmNarratorContext', req, (): Json => ({ setting: req.warm.definition?.sceneKey ?? '' })),

    stage1: (req) => turn('stage1', req, (): StageResult => ({ output: { verb: words(req)[0] ?? '', words: words(req).length }, events: [] })),
    stage2: (req) =>
      turn('stage2', req, (): StageResult => {
        const w = words(req);
        const events: NewEvent[] =
          w[0] === 'take' && w[1]
            ? [event('ActionPerformed', { actor: 'player', action: 'take', target: w[1] }, { source: 'stage2' })]
            : [event('SpeechAct', { speaker: 'player', content: req.input.text.slice(0, 500) }, { source: 'stage2' })];
        return { output: { factual: events.length }, events };
      }),
    stage3: (req) =>
      turn('stage3', req, (): StageResult => ({
        output: null,
        events: [
          event(
            'InterpretiveJudgment',
            {
              id: `j-t${req.input.turn}-s3`,
              category: 'EngagementQuality',
              subject: 'player',
              confidence: 0.6,
              evidence: [`turn-${req.input.turn}`],
              description: 'the player engages',
              source: { kind: 'classifier', model: 'minimal' },
              provisional: true,
            },
            { source: 'stage3', confidence: 0.6 },
          ),
        ],
      })),
    stage4: (req) =>
      turn('stage4', req, (): StageResult => ({
        output: null,
        events: [
          event(
            'InterpretiveJudgment',
            {
              id: `j-t${req.input.turn}-s4`,
              category: 'EngagementQuality',
              subject: 'player',
              confidence: 0.7,
              evidence: [`turn-${req.input.turn}`],
              description: 'deep: the player engages',
              source: { kind: 'classifier', model: 'minimal-deep' },
              provisional: false,
              replaces: `j-t${req.input.turn}-s3`,
            },
            { source: 'stage4', confidence: 0.7 },
          ),
        ],
      })),
    character: (req: CharacterRequest) =>
      turn('character', req, (): AgentResult => ({
        output: { says: `${req.characterId} listens.` },
        events: [event('RelationshipShifted', { from: req.characterId, to: 'player', dimension: 'affection', delta: 0.1 }, { source: `character:${req.characterId}` })],
      })),
    storykeeper: (req) =>
      turn('storykeeper', req, (): AgentResult => {
        const d = data(req);
        const done = req.input.turn >= d.exitAtTurn || words(req)[0] === 'leave';
        return done ? { output: { exit: true }, events: [], sceneExit: { reason: 'goal_completed', nextSceneKey: d.next } } : { output: { exit: false }, events: [] };
      }),
    world: (req) => turn('world', req, (): AgentResult => ({ output: null, events: [] })),
    reconciler: (req) => turn('reconciler', req, (): AgentResult => ({ output: { order: Object.keys(req.results.characters ?? {}).sort() }, events: [] })),
    narrator: (req, onChunk) =>
      turn('narrator', req, (): NarratorResult => {
        const cast = req.scene.definition.cast;
        const parts = [`You: "${req.input.text}". `, cast.length > 0 ? `${cast.join(' and ')} listen.` : 'The wind answers.'];
        for (const p of parts) onChunk(p);
        return { text: parts.join(''), events: [] };
      }),

    planSceneExit: (req) =>
      guard('planSceneExit', () => req.signal, { sessionId: req.session.sessionId }, (): SceneExitPlan => {
        const d = data(req);
        const cast = req.scene.definition.cast;
        return {
          entitySnapshots: cast.map((c) => ({ entityId: c, kind: 'character', components: { lastScene: req.scene.definition.sceneKey } })),
          edgeUpdates: cast.map((c) => ({ from: c, to: 'player', deltas: { affection: 0.1 } })),
          // A non-story exit (grace expiry, shutdown) resumes in the same scene.
          nextSceneKey: req.requestedNextSceneKey ?? (req.reason === 'goal_completed' ? d.next : req.scene.definition.sceneKey),
          entityState: { lastScene: req.scene.definition.sceneKey },
          worldState: { turn: req.turn },
          narrativePosition: { sceneKey: req.scene.definition.sceneKey },
          deferredPayload: { cast },
        };
      }),
  };
  return behaviour;
}
