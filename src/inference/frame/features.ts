import type { CharacterFeatures, CharacterPrediction, FrameSchemaName } from './character-schema.ts';

/**
 * What the engine asks the frame model and what it gets back. The input is the
 * storyteller-character/1 feature set of one character (character-schema.ts); the output
 * is the decoded prediction and the frame text the character agent reads (frame-text.ts).
 */

/** The schema's features plus the character's display name for the frame text (not encoded). */
export type FrameInput = CharacterFeatures & { name?: string };

/** One character's frame. */
export interface CharacterFrame {
  characterId: string;
  schema: FrameSchemaName;
  /** The 42 raw outputs, flat in head order (action, speech, thought, emotion). */
  outputs: Float32Array;
  prediction: CharacterPrediction;
  /** The compressed psychological frame handed to the character agent, built from `prediction` (on first read). */
  readonly text: string;
  readonly tokenCount: number;
}

/**
 * Computes frames for a cast. Scene entry sends the whole cast at once; a turn sends one character.
 *
 * @example
 * const [frame] = await computer.computeFrames([input]);
 * prompt.push(frame.text);
 */
export interface FrameComputer {
  computeFrames(inputs: FrameInput[]): Promise<CharacterFrame[]>;
  close(): Promise<void>;
}
