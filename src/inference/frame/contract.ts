import { StorytellerError } from '../../errors.ts';
import { FEATURE_DIM, OUTPUT_HEADS } from './character-schema.ts';

/**
 * The frame model's ONNX contract (architecture.md §5; frame-schema.md §0): one input
 * `features` float32 `[batch, 453]`, four outputs `action` [batch,14], `speech` [batch,6],
 * `thought` [batch,6], `emotion` [batch,16] of raw pre-activation values. Names and shapes
 * only: what the floats mean is the schema's (character-schema.ts), which a model must
 * declare (manifest or STORYTELLER_FRAME_SCHEMA) before it loads.
 */

export const FRAME_INPUT_NAME = 'features';

export const FRAME_OUTPUTS = OUTPUT_HEADS;

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
