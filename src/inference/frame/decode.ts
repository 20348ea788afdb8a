import { ACTION_CLASSES, SPEECH_CLASSES, THOUGHT_CLASSES, type ActionClass, type SpeechClass, type ThoughtClass } from './contract.ts';
import { DEFAULT_PLAYER_ID, EMOTIONS, MAX_AXES, MAX_EDGES, meanTrust, type FrameInput } from './features.ts';

/**
 * Frame → text: turns the four heads' logits into the compressed psychological frame
 * the character agent reads (~200–400 tokens): dominant action tendency, speech
 * register, awareness, emotional shifts, with the probabilities that matter, plus the
 * few facts from the input that make them legible (drivers, feelings now, stance toward
 * the player). Pure; runs in the frame worker and in the rule-based computer.
 */

/** The slice of a FrameInput the text needs (small, so it is cheap to post to the worker). */
export interface DecodeContext {
  characterId: string;
  /** Current intensities in EMOTIONS order. */
  emotions: number[];
  /** Up to three axes that weigh most (layer weight × |central|). */
  drivers: Array<{ name: string; central: number; layer: string; awareness?: string }>;
  player: { trust: number; affection: number; debt: number } | null;
  event: { kind: string; addressedToMe: boolean; hostility: number; warmth: number } | null;
  scene: { type: string; tension: number; turn: number };
}

export interface FrameHeads {
  action: ArrayLike<number>;
  speech: ArrayLike<number>;
  thought: ArrayLike<number>;
  emotion: ArrayLike<number>;
}

const LAYER_WEIGHT: Record<string, number> = { topsoil: 0.4, sediment: 0.7, bedrock: 1, primordial: 1 };

/** Extracts the decode context from an input (main thread, before posting to the worker). */
export function decodeContextOf(input: FrameInput, playerId = DEFAULT_PLAYER_ID): DecodeContext {
  const drivers = input.axes
    .slice(0, MAX_AXES)
    .map((a) => ({ a, weight: (LAYER_WEIGHT[a.layer] ?? 0.5) * Math.abs(a.central) }))
    .sort((x, y) => y.weight - x.weight)
    .slice(0, 3)
    .map(({ a }) => ({ name: a.name, central: a.central, layer: a.layer, ...(a.awareness ? { awareness: a.awareness } : {}) }));
  const pe = input.edges.slice(0, MAX_EDGES).find((e) => e.to === playerId);
  const ev = input.playerEvent;
  return {
    characterId: input.characterId,
    emotions: EMOTIONS.map((e) => input.emotions[e] ?? 0),
    drivers,
    player: pe ? { trust: meanTrust(pe), affection: pe.affection, debt: pe.debt } : null,
    event: ev ? { kind: ev.kind, addressedToMe: ev.addressedToMe, hostility: ev.hostility, warmth: ev.warmth } : null,
    scene: { type: input.scene.type, tension: input.scene.tension, turn: input.scene.turn },
  };
}

const ACTION_TEXT: Record<ActionClass, string> = {
  approach: 'moves toward the player and engages',
  withdraw: 'pulls back and looks for distance or a way out',
  confront: 'challenges, accuses or argues',
  comfort: 'soothes and reassures',
  assist: 'helps: answers, gives or does something useful',
  obstruct: 'blocks, refuses or hinders',
  reveal: 'is ready to disclose something it has held back',
  conceal: 'hides, deflects and keeps something back',
  deceive: 'misleads on purpose',
  observe: 'watches and listens before acting',
  command: 'takes charge and directs others',
  plead: 'asks for help or mercy',
  defer: "yields to the other's lead",
  wait: 'holds still and lets the moment pass',
};

const SPEECH_TEXT: Record<SpeechClass, string> = {
  silent: 'says nothing unless pressed; a gesture at most',
  terse: 'few words, clipped, no courtesy',
  guarded: 'careful, evasive sentences that answer less than was asked',
  formal: 'measured and correct, keeping distance through manners',
  warm: 'open, personal and generous with words',
  heated: 'raised voice, sharp words, quick to interrupt',
};

const THOUGHT_TEXT: Record<ThoughtClass, string> = {
  articulate: 'knows why it acts and could say so plainly',
  recognizable: 'would recognise its motive if someone named it',
  preconscious: 'acts on a motive it has not noticed yet',
  defended: 'keeps the real motive from itself and will rationalise',
  structural: 'the motive is part of who it is, invisible as a motive',
  absorbed: 'all attention is outward; no room for reflection',
};

const THOUGHT_GUIDANCE: Record<ThoughtClass, string> = {
  articulate: 'it may state its reasons outright',
  recognizable: 'it can hint at its reasons when asked',
  preconscious: 'show the motive only through behaviour',
  defended: 'never let it name the motive; let it offer a plausible cover instead',
  structural: 'let the motive shape every choice without being mentioned',
  absorbed: 'keep it reactive and in the moment',
};

function softmax(logits: ArrayLike<number>): number[] {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  const out = new Array<number>(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i] = out[i]! / sum;
  return out;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
/** Two decimals without Number#toFixed (a runtime call; this runs ~30 times per frame). */
function p2(v: number): string {
  const n = Math.round(Math.abs(v) * 100);
  const frac = n % 100;
  const text = `${Math.floor(n / 100)}.${frac < 10 ? '0' : ''}${frac}`;
  return v < 0 && n !== 0 ? `-${text}` : text;
}
const signed = (v: number): string => (v < 0 && Math.round(-v * 100) !== 0 ? p2(v) : `+${p2(Math.abs(v))}`);

/** Classes by descending probability (insertion sort: at most 14 entries). */
function ranked<T extends string>(classes: readonly T[], probs: number[]): Array<{ c: T; p: number }> {
  const out: Array<{ c: T; p: number }> = [];
  for (let i = 0; i < classes.length; i++) {
    const item = { c: classes[i]!, p: probs[i]! };
    let j = out.length;
    out.push(item);
    while (j > 0 && out[j - 1]!.p < item.p) {
      out[j] = out[j - 1]!;
      j--;
    }
    out[j] = item;
  }
  return out;
}

function normalizedEntropy(probs: number[]): number {
  const h = -probs.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);
  return h / Math.log(probs.length);
}

function stanceWord(p: NonNullable<DecodeContext['player']>): string {
  if (p.trust < -0.3 && p.affection < 0) return 'hostile';
  if (p.trust < -0.3) return 'distrustful';
  if (p.trust < 0) return 'wary';
  if (p.affection > 0.4 && p.trust > 0.3) return 'close';
  if (p.debt > 0.4) return 'obliged';
  if (p.trust > 0.3) return 'trusting';
  return 'neutral';
}

/**
 * Decodes one character's heads into its frame text and token count.
 *
 * @example
 * const { text, tokenCount } = decodeFrame({ action, speech, thought, emotion }, decodeContextOf(input));
 */
export function decodeFrame(heads: FrameHeads, ctx: DecodeContext): { text: string; tokenCount: number } {
  const who = ctx.characterId;
  const actions = ranked(ACTION_CLASSES, softmax(heads.action));
  const speech = ranked(SPEECH_CLASSES, softmax(heads.speech));
  const thought = ranked(THOUGHT_CLASSES, softmax(heads.thought));
  const [a1, a2, a3] = [actions[0]!, actions[1]!, actions[2]!];
  const [s1, s2] = [speech[0]!, speech[1]!];
  const [t1, t2] = [thought[0]!, thought[1]!];
  const actionEntropy = normalizedEntropy(actions.map((x) => x.p));
  const lines: string[] = [];

  lines.push(`FRAME for ${who}: tendencies with probabilities, not orders.`);
  lines.push(
    `Action tendency: ${a1.c} ${p2(a1.p)}, ${a2.c} ${p2(a2.p)}, ${a3.c} ${p2(a3.p)}. Dominant: ${a1.c}, ${who} ${ACTION_TEXT[a1.c]}. ` +
      (a1.p - a2.p < 0.1
        ? `Torn: ${a2.c} pulls almost as hard; show the hesitation.`
        : `Secondary pull: ${a2.c}, ${ACTION_TEXT[a2.c]}.`) +
      ` ${actionEntropy < 0.6 ? 'Decisive' : actionEntropy < 0.8 ? 'Leaning but open' : 'Unsettled'} (action entropy ${p2(actionEntropy)}).`,
  );
  lines.push(`Speech register: ${s1.c} ${p2(s1.p)}, ${s2.c} ${p2(s2.p)}. Speak ${s1.c}: ${SPEECH_TEXT[s1.c]}.${s1.p - s2.p < 0.1 ? ` It may slip into ${s2.c}: ${SPEECH_TEXT[s2.c]}.` : ''}`);
  lines.push(`Awareness: ${t1.c} ${p2(t1.p)}, ${t2.c} ${p2(t2.p)}. ${who} ${THOUGHT_TEXT[t1.c]}; ${THOUGHT_GUIDANCE[t1.c]}.`);

  const driversIndex = ctx.drivers.length > 0 ? lines.length : -1;
  if (ctx.drivers.length > 0) {
    const d = ctx.drivers.map((x) => `${x.name} (${x.layer}, ${signed(x.central)}${x.awareness ? `, ${x.awareness}` : ''})`);
    lines.push(`Drivers: ${d.join('; ')}.`);
  }

  const shifts: Array<{ text: string; p: number }> = [];
  EMOTIONS.forEach((e, i) => {
    const rise = sigmoid(heads.emotion[2 * i]!);
    const fall = sigmoid(heads.emotion[2 * i + 1]!);
    const now = ctx.emotions[i] ?? 0;
    if (rise >= fall) shifts.push({ text: `${e} rising ${p2(rise)} (now ${p2(now)})`, p: rise });
    else shifts.push({ text: `${e} falling ${p2(fall)} (now ${p2(now)})`, p: fall });
  });
  shifts.sort((x, y) => y.p - x.p);
  const likely = shifts.filter((s) => s.p >= 0.5);
  const shown = likely.length >= 2 ? likely.slice(0, 4) : shifts.slice(0, 2);
  const steady = EMOTIONS.filter((e) => !shown.some((s) => s.text.startsWith(`${e} `)));
  lines.push(`Emotional shifts: ${shown.map((s) => s.text).join('; ')}.`);
  const steadyIndex = lines.push(`Steady: ${steady.join(', ')}.`) - 1;

  const feelingsIndex = lines.length;
  const feelings = EMOTIONS.map((e, i) => ({ e, v: ctx.emotions[i] ?? 0 }))
    .filter((x) => x.v > 0.05)
    .sort((x, y) => y.v - x.v)
    .slice(0, 3);
  lines.push(feelings.length > 0 ? `Feeling now: ${feelings.map((f, i) => `${f.e} ${p2(f.v)}${i === 0 ? ' (dominant)' : ''}`).join(', ')}.` : 'Feeling now: nothing strong.');

  if (ctx.player) {
    lines.push(`Toward the player: trust ${signed(ctx.player.trust)}, affection ${signed(ctx.player.affection)}, debt ${signed(ctx.player.debt)}; ${stanceWord(ctx.player)}.`);
  } else {
    lines.push('Toward the player: no history yet; a stranger.');
  }
  const ev = ctx.event;
  const evText = ev
    ? `the player's last move was ${ev.kind === 'examination' ? 'an' : 'a'} ${ev.kind}${ev.addressedToMe ? ` aimed at ${who}` : ''}${ev.hostility > 0.5 ? ', hostile' : ev.warmth > 0.5 ? ', warm' : ''}`
    : 'the player has not acted yet';
  lines.push(`Situation: ${evText}; ${ctx.scene.type} scene, tension ${p2(ctx.scene.tension)}, turn ${ctx.scene.turn}.`);
  const topShift = shown[0];
  lines.push(
    `Guidance: lead with ${a1.c} in a ${s1.c} register` +
      (topShift && topShift.p >= 0.5 ? `, let ${topShift.text.split(' ')[0]} ${topShift.text.includes('rising') ? 'grow' : 'ease'} in the reply` : '') +
      `; stay ${t1.c}.`,
  );

  // Stay inside the budget: drop the least useful lines first (rarely needed: long ids, many shifts).
  let text = lines.join('\n');
  let tokenCount = estimateTokens(text);
  for (const drop of [steadyIndex, feelingsIndex, driversIndex]) {
    if (tokenCount <= MAX_FRAME_TOKENS) break;
    if (drop < 0) continue;
    lines[drop] = '';
    text = lines.filter((l) => l !== '').join('\n');
    tokenCount = estimateTokens(text);
  }
  return { text, tokenCount };
}

/** Upper bound of the frame text budget (estimated tokens); decode drops optional lines to stay under it. */
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
