import { ACTION_CLASSES, SPEECH_CLASSES, THOUGHT_CLASSES } from './contract.ts';
import {
  AWARENESS_LEVELS,
  DEFAULT_PLAYER_ID,
  EMOTIONS,
  MAX_AXES,
  MAX_EDGES,
  meanTrust,
  type AwarenessLevel,
  type Emotion,
  type FrameInput,
  type FramePlayerEvent,
} from './features.ts';

/**
 * The documented behaviour rules the frame model is trained to reproduce (the
 * "teacher"). models:build labels generated characters with these scores; the
 * deterministic `RuleFrameComputer` uses them directly, without ONNX. Every rule reads
 * only what the feature encoder keeps, so a model can learn it from the 453 floats.
 * The rules are listed in prose in docs/frame-model.md ("Labelling rules").
 */

export interface RuleScores {
  action: number[];
  speech: number[];
  thought: number[];
  emotion: number[];
}

const LAYER_WEIGHT = { topsoil: 0.4, sediment: 0.7, bedrock: 1, primordial: 1 } as const;

const clip = (v: number, lo: number, hi: number): number => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : 0);

/** The interpretable summaries every rule is written in. */
export interface CharacterSummary {
  /** Layer-weighted mean central tendency: > 0 expansive / assertive, < 0 restrained. */
  drive: number;
  /** Mean variance plus half the mean range: how unpredictable the character is. */
  volatility: number;
  /** Share of (layer- and magnitude-weighted) axes at each awareness level. */
  awareness: Record<AwarenessLevel, number>;
  /** preconscious + defended + structural share: how much of the self is out of view. */
  hidden: number;
  emotions: Record<Emotion, number>;
  maxEmotion: number;
  selfTrust: number;
  selfCompetence: number;
  player: { trust: number; benevolence: number; competence: number; affection: number; debt: number };
  event: { present: number; hostility: number; warmth: number; addressed: number; mentions: number; touches: number; kind: FramePlayerEvent['kind'] | null };
  historyHostility: number;
  historyWarmth: number;
  /** 1 when the current event's kind appears nowhere in a non-empty history. */
  novelty: number;
  tension: number;
  exitPressure: number;
  mass: number;
  castSize: number;
  turn: number;
  sceneType: FrameInput['scene']['type'];
}

function touches(ev: FramePlayerEvent, input: FrameInput): boolean {
  const names = input.axes.slice(0, MAX_AXES).map((a) => a.name.toLowerCase());
  return (ev.topicKeywords ?? []).some((k) => {
    const kw = k.toLowerCase();
    return kw.length > 0 && names.some((n) => n.includes(kw) || kw.includes(n));
  });
}

export function summarize(input: FrameInput, playerId = DEFAULT_PLAYER_ID): CharacterSummary {
  const axes = input.axes.slice(0, MAX_AXES);
  let wSum = 0;
  let driveSum = 0;
  let volSum = 0;
  const aw: Record<AwarenessLevel, number> = { articulate: 0, recognizable: 0, preconscious: 0, defended: 0, structural: 0 };
  let awSum = 0;
  for (const a of axes) {
    const w = LAYER_WEIGHT[a.layer];
    wSum += w;
    driveSum += w * clip(a.central, -1, 1);
    volSum += clip(a.variance, 0, 1) + 0.5 * Math.max(0, (clip(a.high, -1, 1) - clip(a.low, -1, 1)) / 2);
    if (a.awareness) {
      const m = w * (0.25 + Math.abs(clip(a.central, -1, 1)));
      aw[a.awareness] += m;
      awSum += m;
    }
  }
  if (awSum > 0) for (const l of AWARENESS_LEVELS) aw[l] /= awSum;
  const emotions = Object.fromEntries(EMOTIONS.map((e) => [e, clip(input.emotions[e] ?? 0, 0, 1)])) as Record<Emotion, number>;
  const self = input.selfEdge ?? {};
  const pe = input.edges.slice(0, MAX_EDGES).find((e) => e.to === playerId);
  const ev = input.playerEvent;
  const history = (input.history ?? []).slice(0, 3);
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length);
  return {
    drive: wSum > 0 ? driveSum / wSum : 0,
    volatility: axes.length > 0 ? volSum / axes.length : 0,
    awareness: aw,
    hidden: aw.preconscious + aw.defended + aw.structural,
    emotions,
    maxEmotion: Math.max(...EMOTIONS.map((e) => emotions[e])),
    selfTrust: meanTrust(self),
    selfCompetence: clip(self.trust_competence ?? 0, -1, 1),
    player: pe
      ? {
          trust: meanTrust(pe),
          benevolence: clip(pe.trust_benevolence, -1, 1),
          competence: clip(pe.trust_competence, -1, 1),
          affection: clip(pe.affection, -1, 1),
          debt: clip(pe.debt, -1, 1),
        }
      : { trust: 0, benevolence: 0, competence: 0, affection: 0, debt: 0 },
    event: ev
      ? {
          present: 1,
          hostility: clip(ev.hostility, 0, 1),
          warmth: clip(ev.warmth, 0, 1),
          addressed: ev.addressedToMe ? 1 : 0,
          mentions: ev.mentionsMe ? 1 : 0,
          touches: touches(ev, input) ? 1 : 0,
          kind: ev.kind,
        }
      : { present: 0, hostility: 0, warmth: 0, addressed: 0, mentions: 0, touches: 0, kind: null },
    historyHostility: mean(history.map((h) => clip(h.hostility, 0, 1))),
    historyWarmth: mean(history.map((h) => clip(h.warmth, 0, 1))),
    novelty: ev && history.length > 0 && !history.some((h) => h.kind === ev.kind) ? 1 : 0,
    tension: clip(input.scene.tension, 0, 1),
    exitPressure: clip(input.scene.exitPressure, 0, 1),
    mass: clip(input.scene.mass, 0, 1),
    castSize: clip(input.scene.castSize / 10, 0, 1),
    turn: clip(input.scene.turn / 20, 0, 1),
    sceneType: input.scene.type,
  };
}

/** The rule scores (logits) for one character: the teacher's view of its next moment. */
export function ruleScores(input: FrameInput, playerId = DEFAULT_PLAYER_ID): RuleScores {
  const s = summarize(input, playerId);
  const e = s.emotions;
  const p = s.player;
  const ev = s.event;
  const is = (k: FramePlayerEvent['kind']): number => (ev.kind === k ? 1 : 0);
  const noEvent = 1 - ev.present;
  const outward = 1 - ev.addressed;
  const gateLike = s.sceneType === 'gate' || s.sceneType === 'threshold' ? 1 : 0;

  const action: Record<(typeof ACTION_CLASSES)[number], number> = {
    approach: 1.2 * p.affection + 0.8 * p.trust + 0.8 * e.joy + 0.6 * ev.warmth + 0.4 * ev.addressed - 0.8 * e.fear,
    withdraw: 1.5 * e.fear + 0.6 * e.sadness - 0.6 * s.drive + 0.8 * ev.hostility * (1 - s.selfTrust) - 0.5 * p.affection + 0.5 * s.exitPressure - 0.3,
    confront: 1.8 * e.anger + 1.2 * ev.hostility + 0.6 * s.drive - 0.8 * p.benevolence + 0.8 * s.tension * ev.hostility + 0.6 * s.historyHostility - 0.5,
    comfort: 0.9 * p.affection + 0.7 * p.benevolence + 0.6 * e.trust + 0.6 * ev.warmth * ev.addressed - 0.8 * e.anger - 0.2,
    assist: 1.2 * p.debt + 0.8 * p.competence + 1.0 * is('question') * ev.addressed + 0.5 * p.trust - 0.2,
    obstruct: -1.0 * p.benevolence + 0.8 * e.disgust + 0.5 * s.drive + 0.6 * (s.sceneType === 'gate' ? 1 : 0) + 0.5 * ev.hostility - 0.5,
    reveal: 1.0 * s.awareness.articulate + 0.8 * p.trust + 0.8 * is('question') * ev.touches + 0.6 * s.exitPressure + 0.4 * s.turn - 0.6 * s.hidden,
    conceal: 1.4 * s.hidden + 0.7 * e.fear - 0.7 * p.trust + 0.6 * ev.touches - 0.6,
    deceive: 0.9 * s.awareness.defended - 0.9 * p.benevolence + 0.5 * e.anticipation - 0.6 * p.affection + 0.4 * ev.hostility - 0.6,
    observe: 1.2 * is('examination') + 0.8 * e.surprise + 0.6 * outward + 0.5 * e.anticipation + 0.4 * s.novelty - 0.4,
    command: 1.3 * s.drive + 0.8 * s.selfCompetence + 0.5 * e.anger + 0.4 * (s.sceneType === 'gravitational' ? 1 : 0) - 0.5 * e.fear - 0.3,
    plead: 1.0 * e.fear + 0.7 * e.sadness - 0.8 * s.selfCompetence - 0.5 * p.debt + 0.5 * ev.hostility - 0.6,
    defer: -0.9 * s.drive + 0.7 * p.trust + 0.6 * p.debt + 0.5 * p.competence - 0.2,
    wait: 0.8 * outward + 0.4 * s.castSize + 0.6 * (1 - s.tension) + 0.8 * noEvent + 1.0 * is('meta') - 1.0,
  };

  const speech: Record<(typeof SPEECH_CLASSES)[number], number> = {
    silent: 0.9 * outward + 0.7 * e.fear + 0.6 * s.hidden - 0.6 * s.awareness.articulate + 0.4 * noEvent - 0.6,
    terse: 0.7 * e.anger + 0.6 * s.exitPressure - 0.5 * p.affection + 0.4 * s.drive - 0.1,
    guarded: 1.0 * s.hidden + 0.6 * e.fear - 0.8 * p.trust + 0.5 * ev.touches - 0.4,
    formal: 0.8 * gateLike + 0.6 * s.mass - 0.5 * p.affection + 0.4 * p.competence - 0.4,
    warm: 1.1 * p.affection + 0.8 * e.joy + 0.7 * ev.warmth + 0.6 * p.benevolence - 0.2,
    heated: 1.6 * e.anger + 1.0 * ev.hostility + 0.7 * s.volatility + 0.5 * s.tension - 0.9,
  };

  const thought: Record<(typeof THOUGHT_CLASSES)[number], number> = {
    articulate: 1.5 * s.awareness.articulate + 0.6 * s.selfTrust - 0.6 * s.maxEmotion,
    recognizable: 1.5 * s.awareness.recognizable + 0.2,
    preconscious: 1.5 * s.awareness.preconscious + 0.6 * s.maxEmotion - 0.2,
    defended: 1.5 * s.awareness.defended + 0.8 * ev.hostility * ev.touches + 0.4 * e.fear - 0.1,
    structural: 1.5 * s.awareness.structural + 0.3 * (1 - s.volatility) - 0.2,
    absorbed: 0.9 * e.surprise + 0.8 * s.tension + 0.8 * (is('action') + is('movement')) * ev.addressed + 0.5 * s.maxEmotion - 1.0,
  };

  // Emotional shifts: a rise and a fall logit per emotion (independent). High intensity decays.
  const decay = (x: number): number => 1.6 * x - 1.2;
  const shifts: Record<Emotion, [rise: number, fall: number]> = {
    joy: [1.6 * ev.warmth + 0.8 * p.affection * ev.warmth - 1.0 * ev.hostility - 0.9, decay(e.joy) + 1.4 * ev.hostility],
    trust: [1.4 * ev.warmth * (0.5 + p.benevolence) + 0.4 * s.historyWarmth - 1.0, decay(e.trust) + 1.5 * ev.hostility + 0.6 * s.historyHostility - 0.6 * p.trust],
    fear: [1.2 * ev.hostility * ev.addressed + 1.0 * s.tension - 0.8 * s.selfCompetence - 1.0, decay(e.fear) + 1.0 * ev.warmth * (0.5 + p.trust)],
    surprise: [1.6 * s.novelty + 0.6 * ev.mentions * outward - 1.0, 2 * e.surprise - 1.2],
    sadness: [1.4 * ev.hostility * Math.max(0, p.affection) + 0.6 * s.exitPressure * Math.max(0, p.affection) - 1.0, decay(e.sadness) + 1.0 * ev.warmth],
    disgust: [1.2 * ev.hostility * (0.5 - p.benevolence) + 0.6 * ev.touches * ev.hostility - 1.0, decay(e.disgust) + 0.6 * ev.warmth],
    anger: [1.8 * ev.hostility * ev.addressed + 0.8 * s.historyHostility + 0.6 * s.volatility - 0.8 * p.affection - 1.0, decay(e.anger) + 1.2 * ev.warmth],
    anticipation: [1.0 * s.exitPressure + 0.8 * is('question') + 0.6 * s.tension - 1.0, decay(e.anticipation) + 0.5 * noEvent],
  };

  return {
    action: ACTION_CLASSES.map((c) => action[c]),
    speech: SPEECH_CLASSES.map((c) => speech[c]),
    thought: THOUGHT_CLASSES.map((c) => thought[c]),
    emotion: EMOTIONS.flatMap((em) => shifts[em]), // joy+, joy-, trust+, ... as EMOTION_SHIFT_CLASSES
  };
}
