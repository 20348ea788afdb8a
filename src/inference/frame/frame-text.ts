import { AWARENESS_LEVELS, type AwarenessLevel, type CharacterFeatures, type CharacterPrediction } from './character-schema.ts';
import { sortedAxes } from './encoder.ts';

/**
 * Prediction → frame text: what the character agent reads (~100–250 tokens). Everything
 * in it comes from the decoded storyteller-character/1 prediction; the input supplies
 * only names (primaries by the character's list order, the peer's enrichment §2.5), the
 * current intensities and the situation. Pure and allocation-light: it runs on the event
 * loop for every frame.
 */

const ACTION_TEXT = {
  perform: 'does something: a deliberate act rather than words',
  speak: 'speaks',
  move: 'moves: closer, away or elsewhere',
  examine: 'studies the situation before committing',
  wait: 'holds still and lets the moment pass',
  resist: 'pushes back: refuses, blocks or defies',
} as const;

const CONTEXT_TEXT = {
  shared_history: 'what has passed between them before',
  current_scene: 'what is in front of it here and now',
  emotional_reaction: 'its own feelings in the moment',
  relational_dynamic: 'where it stands with the other',
  world_response: 'what the world has just done',
} as const;

const REGISTER_TEXT = {
  whisper: 'low and private, for one listener',
  conversational: 'ordinary, even conversation',
  declamatory: 'raised, public, for the room',
  internal: 'inward: half-said, to itself',
} as const;

const AWARENESS_TEXT: Record<AwarenessLevel, string> = {
  articulate: 'knows why it acts and could say so plainly; it may state its reasons',
  recognizable: 'would recognise its motive if someone named it; it can hint at it when asked',
  preconscious: 'acts on a motive it has not noticed yet; show the motive only through behaviour',
  defended: 'keeps the real motive from itself; never let it name the motive, let it offer a plausible cover',
  structural: 'the motive is part of who it is; let it shape every choice without being mentioned',
};

/** Two decimals with a sign, without Number#toFixed. */
function num(v: number, sign = false): string {
  const n = Math.round(Math.abs(v) * 100);
  const frac = n % 100;
  const text = `${Math.floor(n / 100)}.${frac < 10 ? '0' : ''}${frac}`;
  if (v < 0 && n !== 0) return `-${text}`;
  return sign ? `+${text}` : text;
}

/** The peer's templating: valence > 0.3 warmth, < -0.3 tension, else restraint. */
export function valenceWord(valence: number): 'with warmth' | 'with tension' | 'with restraint' {
  return valence > 0.3 ? 'with warmth' : valence < -0.3 ? 'with tension' : 'with restraint';
}

/** A decoded primary index named through the character's own list (out of range → unknown_<n>). */
export function primaryName(f: CharacterFeatures, index: number): string {
  return f.primaries[index]?.id ?? `unknown_${index}`;
}

/** One step more conscious (Structural → Defended → … → Articulate; Articulate stays). */
export function moreConscious(level: AwarenessLevel): AwarenessLevel {
  return AWARENESS_LEVELS[Math.max(0, AWARENESS_LEVELS.indexOf(level) - 1)]!;
}

/**
 * The frame text for one character and its prediction.
 *
 * @example
 * const { text, tokenCount } = frameText(features, decodePrediction(outputs));
 */
export function frameText(f: CharacterFeatures, p: CharacterPrediction, name: string = f.characterId): { text: string; tokenCount: number } {
  const a = p.action;
  const lines: string[] = [];
  lines.push(`FRAME for ${name} (predicted tendencies, not orders).`);
  lines.push(`Action: ${a.type} (confidence ${num(a.confidence)}): ${name} ${ACTION_TEXT[a.type]}, ${valenceWord(a.valence)} (valence ${num(a.valence, true)}), prompted by ${CONTEXT_TEXT[a.context]}.`);
  lines.push(
    p.speech.occurs
      ? `Speech: yes, ${p.speech.register} (confidence ${num(p.speech.confidence)}): ${REGISTER_TEXT[p.speech.register]}.`
      : `Speech: unlikely; if pressed, ${p.speech.register}: ${REGISTER_TEXT[p.speech.register]}.`,
  );
  lines.push(`Awareness: ${p.thought.awareness}: it ${AWARENESS_TEXT[p.thought.awareness]}.`);
  const dominant = f.primaries[p.thought.dominantEmotionIndex];
  lines.push(`Dominant emotion: ${primaryName(f, p.thought.dominantEmotionIndex)}${dominant ? ` (now ${num(dominant.intensity)})` : ''}.`);
  if (p.emotionDeltas.length > 0) {
    const shifts: string[] = [];
    for (const d of p.emotionDeltas) {
      const shift = d.awarenessShifts ? `, surfacing to ${moreConscious(p.thought.awareness)}` : '';
      shifts.push(`${primaryName(f, d.primaryIndex)} ${num(d.intensityChange, true)}${shift}`);
    }
    lines.push(`Emotional shifts: ${shifts.join('; ')}.`);
    // The peer's internal conflict: the first pair of emitted deltas with opposite signs.
    const rising = p.emotionDeltas.find((d) => d.intensityChange > 0);
    const falling = p.emotionDeltas.find((d) => d.intensityChange < 0);
    if (rising && falling) lines.push(`Inner conflict: ${primaryName(f, rising.primaryIndex)} rising while ${primaryName(f, falling.primaryIndex)} recedes.`);
  } else {
    lines.push('Emotional shifts: none; its feelings hold steady.');
  }
  const drivers = sortedAxes(f.axes)
    .filter((x) => Math.abs(x.central) >= 0.3)
    .sort((x, y) => Math.abs(y.central) - Math.abs(x.central))
    .slice(0, 3);
  if (drivers.length > 0) lines.push(`Drivers: ${drivers.map((x) => `${x.name} (${x.layer}, ${num(x.central, true)})`).join('; ')}.`);
  const ev = f.event;
  lines.push(`Situation: the player's ${ev.type} (${ev.register}), ${f.scene.type} scene, tension ${num(f.scene.tension)}, ${f.scene.castSize} present.`);
  if (f.history.length > 0) lines.push(`Its last moves: ${f.history.map((h) => `${h.action}/${h.register}`).join(', ')}.`);
  lines.push(`Guidance: ${a.type === 'speak' || p.speech.occurs ? `answer in a ${p.speech.register} register` : `let it ${a.type}`}, ${valenceWord(a.valence)}; stay ${p.thought.awareness}.`);
  const text = lines.join('\n');
  return { text, tokenCount: estimateTokens(text) };
}

/** The frame text's budget in estimated tokens (the text is built to stay well inside it; tested). */
export const MAX_FRAME_TOKENS = 400;

/**
 * Token estimate for frame text, without a tokenizer: each run of letters counts one
 * token per started 6 letters, each run of digits one per started 3 digits, each other
 * non-space character one token. On English prose this is close to (slightly above)
 * the BPE tokenizers LLM providers use; it is a budget estimate, not an exact count.
 *
 * @example
 * estimateTokens('fear rising 0.74'); // 5
 */
export function estimateTokens(text: string): number {
  // One pass over char codes with a class table, no allocation (runs for every frame).
  let n = 0;
  let run = 0;
  let runKind = 0; // 0 none, 1 letters, 2 digits
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const kind = c < 128 ? CHAR_KIND[c]! : 3;
    if (kind === runKind && kind !== 0 && kind !== 3) {
      run++;
      continue;
    }
    if (runKind === 1) n += Math.ceil(run / 6);
    else if (runKind === 2) n += Math.ceil(run / 3);
    run = 0;
    runKind = 0;
    if (kind === 1 || kind === 2) {
      runKind = kind;
      run = 1;
    } else if (kind === 3) n++; // other symbol (incl. non-ASCII)
  }
  if (runKind === 1) n += Math.ceil(run / 6);
  else if (runKind === 2) n += Math.ceil(run / 3);
  return n;
}

/** ASCII classes: 0 whitespace, 1 letter, 2 digit, 3 other symbol. */
const CHAR_KIND: Uint8Array = (() => {
  const t = new Uint8Array(128).fill(3);
  for (const c of [9, 10, 11, 12, 13, 32]) t[c] = 0;
  for (let c = 65; c <= 90; c++) t[c] = 1;
  for (let c = 97; c <= 122; c++) t[c] = 1;
  for (let c = 48; c <= 57; c++) t[c] = 2;
  return t;
})();
