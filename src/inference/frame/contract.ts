import { StorytellerError } from '../../errors.ts';
import { EMOTIONS, FEATURE_DIM, type Emotion } from './features.ts';

/**
 * The frame model's contract (architecture.md §5): one input `features` float32
 * `[batch, 453]`, four outputs of raw logits. Any ONNX file with these names and shapes
 * drops in, whoever trained it. The class names give each logit its meaning.
 */

/** Action tendency: what the character is inclined to do next (softmax over 14). */
export const ACTION_CLASSES = [
  'approach', // move toward the player / engage
  'withdraw', // pull back, leave, avoid
  'confront', // challenge, accuse, argue
  'comfort', // soothe, reassure
  'assist', // help, give, answer usefully
  'obstruct', // block, refuse, hinder
  'reveal', // disclose something held back
  'conceal', // hide, deflect, keep a secret
  'deceive', // mislead on purpose
  'observe', // watch, study, listen
  'command', // direct others, take charge
  'plead', // ask for help or mercy
  'defer', // yield to the other's lead
  'wait', // hold still, let the moment pass
] as const;

/** Speech register: how the character would speak if it speaks (softmax over 6). */
export const SPEECH_CLASSES = ['silent', 'terse', 'guarded', 'formal', 'warm', 'heated'] as const;

/**
 * Awareness: how aware the character is of what drives its response this moment
 * (softmax over 6; the tensor's five awareness levels plus `absorbed`: attention fully
 * outward, no self-reflection at all).
 */
export const THOUGHT_CLASSES = ['articulate', 'recognizable', 'preconscious', 'defended', 'structural', 'absorbed'] as const;

/**
 * Emotional shifts: for each of Plutchik's eight, one logit that it rises and one that it
 * falls this turn (independent sigmoids, multi-label): `joy+`, `joy-`, `trust+`, ...
 */
export const EMOTION_SHIFT_CLASSES = EMOTIONS.flatMap((e) => [`${e}+`, `${e}-`] as const) as ReadonlyArray<`${Emotion}${'+' | '-'}`>;

export type ActionClass = (typeof ACTION_CLASSES)[number];
export type SpeechClass = (typeof SPEECH_CLASSES)[number];
export type ThoughtClass = (typeof THOUGHT_CLASSES)[number];

export const FRAME_INPUT_NAME = 'features';

export const FRAME_OUTPUTS = [
  { name: 'action', size: ACTION_CLASSES.length },
  { name: 'speech', size: SPEECH_CLASSES.length },
  { name: 'thought', size: THOUGHT_CLASSES.length },
  { name: 'emotion', size: EMOTION_SHIFT_CLASSES.length },
] as const;

export type FrameOutputName = (typeof FRAME_OUTPUTS)[number]['name'];

/** The contract as plain JSON (written into manifest.json, compared at load). */
export const FRAME_CONTRACT = {
  input: { name: FRAME_INPUT_NAME, type: 'float32', shape: ['batch', FEATURE_DIM] },
  outputs: Object.fromEntries(FRAME_OUTPUTS.map((o) => [o.name, { type: 'float32', shape: ['batch', o.size] }])) as Record<
    FrameOutputName,
    { type: 'float32'; shape: [string, number] }
  >,
} as const;

export type FrameContract = typeof FRAME_CONTRACT;

/** What an ONNX session says about one input or output (onnxruntime's ValueMetadata, narrowed). */
export interface ValueDescription {
  name: string;
  isTensor: boolean;
  type?: string;
  /** Dimensions; a symbolic dimension is a string, an unknown one may be -1 or missing. */
  shape?: ReadonlyArray<number | string>;
}

function dimMatches(actual: number | string | undefined, expected: number | 'batch'): boolean {
  if (expected === 'batch') return actual === undefined || typeof actual === 'string' || actual === -1 || actual === 0;
  return actual === expected;
}

function describeShape(shape: ReadonlyArray<number | string> | undefined): string {
  return shape ? `[${shape.join(', ')}]` : '[?]';
}

/**
 * Checks a loaded model's inputs and outputs against the contract; throws
 * FRAME_MODEL_CONTRACT listing every mismatch. The batch dimension must be dynamic.
 *
 * @example
 * assertFrameContract(session.inputMetadata, session.outputMetadata, 'models/frame/current');
 */
export function assertFrameContract(inputs: readonly ValueDescription[], outputs: readonly ValueDescription[], source: string): void {
  const problems: string[] = [];
  const check = (kind: string, values: readonly ValueDescription[], name: string, size: number): void => {
    const v = values.find((x) => x.name === name);
    if (!v) {
      problems.push(`${kind} '${name}' is missing (model has ${values.map((x) => `'${x.name}'`).join(', ') || 'none'})`);
      return;
    }
    if (!v.isTensor || (v.type !== undefined && v.type !== 'float32')) problems.push(`${kind} '${name}' must be a float32 tensor (is ${v.type ?? 'not a tensor'})`);
    const shape = v.shape;
    if (!shape || shape.length !== 2 || !dimMatches(shape[0], 'batch') || !dimMatches(shape[1], size)) {
      problems.push(`${kind} '${name}' must have shape [batch, ${size}] (is ${describeShape(shape)})`);
    }
  };
  if (inputs.length !== 1) problems.push(`expected exactly one input, model has ${inputs.length}`);
  check('input', inputs, FRAME_INPUT_NAME, FEATURE_DIM);
  for (const o of FRAME_OUTPUTS) check('output', outputs, o.name, o.size);
  if (problems.length > 0) {
    throw new StorytellerError('FRAME_MODEL_CONTRACT', `frame model ${source} does not match the contract: ${problems.join('; ')}`, {
      details: { source, problems },
    });
  }
}
