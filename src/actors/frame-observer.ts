import type { CharacterPrediction, FrameSchemaName, HistoryEntry } from '../inference/frame/character-schema.ts';
import { moduleLogger, type Logger } from '../logger.ts';

/**
 * Frames made visible: every frame the story behaviour computes (scene entry for the
 * cast, each turn for each character agent) is reported to the `onFrame` observer of
 * StoryBehaviour / createStoryBehaviour — the decoded storyteller-character/1 prediction
 * and the frame text the agent's prompt is built from. The engine logs them at debug,
 * `storyteller play --show-frames` prints them, and a gateway debug stream can subscribe
 * the same way. Observers must not throw (errors are swallowed so a frame never breaks a turn).
 */
export interface FrameReport {
  sessionId: string;
  sceneKey: string;
  /** `scene_entry`: the cast's frames as the scene opens; `turn`: one character agent's frame. */
  phase: 'scene_entry' | 'turn';
  /** Session turn (null at scene entry). */
  turn: number | null;
  characterId: string;
  schema: FrameSchemaName;
  prediction: CharacterPrediction;
  /** The character's own earlier predictions the model was given (most recent first). */
  history: HistoryEntry[];
  text: string;
  tokenCount: number;
}

export type FrameObserver = (report: FrameReport) => void;

/** Reports to every observer given, each guarded. */
export function combineFrameObservers(...observers: ReadonlyArray<FrameObserver | undefined>): FrameObserver | undefined {
  const list = observers.filter((o): o is FrameObserver => o !== undefined);
  if (list.length === 0) return undefined;
  return (report) => {
    for (const o of list) {
      try {
        o(report);
      } catch {
        // An observer's failure is not the turn's.
      }
    }
  };
}

/** LOG_LEVEL=debug: one `frame` line per frame with the prediction and the text. */
export function loggingFrameObserver(logger: Logger): FrameObserver | undefined {
  const log = moduleLogger(logger, 'inference').child({ component: 'frame' });
  if (!log.isLevelEnabled('debug')) return undefined;
  return (r) => log.debug({ sessionId: r.sessionId, sceneKey: r.sceneKey, phase: r.phase, turn: r.turn, characterId: r.characterId, schema: r.schema, prediction: r.prediction, frameText: r.text, tokenCount: r.tokenCount }, 'frame');
}

/** A compact human-readable rendering (the terminal's --show-frames). */
export function describePrediction(p: CharacterPrediction): string {
  const deltas = p.emotionDeltas.map((d) => `#${d.primaryIndex}${d.intensityChange >= 0 ? '+' : ''}${d.intensityChange.toFixed(2)}${d.awarenessShifts ? '↑' : ''}`).join(' ');
  return (
    `${p.action.type}/${p.action.context} conf ${p.action.confidence.toFixed(2)} valence ${p.action.valence.toFixed(2)}; ` +
    `speech ${p.speech.occurs ? p.speech.register : `none (${p.speech.register})`} ${p.speech.confidence.toFixed(2)}; ` +
    `${p.thought.awareness}, dominant #${p.thought.dominantEmotionIndex}; deltas ${deltas || 'none'}`
  );
}
