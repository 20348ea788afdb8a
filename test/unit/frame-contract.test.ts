import { describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../src/errors.ts';
import { FRAME_CONTRACT, FRAME_OUTPUTS, assertFrameContract, type ValueDescription } from '../../src/inference/frame/contract.ts';
import { FRAME_SCHEMA_NAME } from '../../src/inference/frame/character-schema.ts';
import { beatsBaseline } from '../../src/inference/frame/trainer.ts';
import { manifestContractMatches, parseFrameManifest } from '../../src/inference/frame/manifest.ts';
import { readFileSync } from 'node:fs';

const good = (): { inputs: ValueDescription[]; outputs: ValueDescription[] } => ({
  inputs: [{ name: 'features', isTensor: true, type: 'float32', shape: ['batch', 453] }],
  outputs: [
    { name: 'action', isTensor: true, type: 'float32', shape: ['batch', 14] },
    { name: 'speech', isTensor: true, type: 'float32', shape: ['batch', 6] },
    { name: 'thought', isTensor: true, type: 'float32', shape: ['batch', 6] },
    { name: 'emotion', isTensor: true, type: 'float32', shape: ['N', 16] },
  ],
});

function problemsOf(fn: () => void): string[] {
  try {
    fn();
  } catch (error) {
    if (isStorytellerError(error, 'FRAME_MODEL_CONTRACT')) return error.details?.problems as string[];
    throw error;
  }
  return [];
}

describe('frame contract', () => {
  it('has the four outputs action 14, speech 6, thought 6, emotion 16, in that order', () => {
    expect(FRAME_OUTPUTS.map((o) => [o.name, o.size])).toEqual([['action', 14], ['speech', 6], ['thought', 6], ['emotion', 16]]);
  });

  it('accepts the contract with any symbolic or dynamic batch dimension', () => {
    const { inputs, outputs } = good();
    expect(problemsOf(() => assertFrameContract(inputs, outputs, 'm'))).toEqual([]);
    inputs[0]!.shape = [-1, 453];
    expect(problemsOf(() => assertFrameContract(inputs, outputs, 'm'))).toEqual([]);
  });

  it('lists every mismatch: missing output, wrong width, wrong type, fixed batch, wrong input name', () => {
    const { inputs, outputs } = good();
    outputs.pop();
    outputs[0]!.shape = ['batch', 13];
    outputs[1]!.type = 'float16';
    outputs[2]!.shape = [4, 6];
    expect(problemsOf(() => assertFrameContract(inputs, outputs, 'm'))).toHaveLength(4);
    const renamed = good();
    renamed.inputs[0]!.name = 'x';
    expect(problemsOf(() => assertFrameContract(renamed.inputs, renamed.outputs, 'm'))[0]).toContain("input 'features' is missing");
  });

  it('the committed manifest declares exactly this contract and parses', () => {
    const dir = `models/frame/${readFileSync('models/frame/current', 'utf8').trim()}`;
    const manifest = parseFrameManifest(readFileSync(`${dir}/manifest.json`, 'utf8'), dir);
    expect(manifestContractMatches(manifest)).toBe(true);
    expect(manifest.contract).toEqual(JSON.parse(JSON.stringify(FRAME_CONTRACT)));
    expect(manifest.schema).toBe(FRAME_SCHEMA_NAME);
    expect(manifest.origin).toBe('built');
    const parts = Object.entries(manifest.validation?.parts ?? {});
    expect(parts.map(([n]) => n)).toEqual(expect.arrayContaining(['action_type', 'action_context', 'speech_occurs', 'speech_register', 'awareness', 'awareness_shifts', 'emotion_deltas']));
    for (const [name, m] of parts) expect(beatsBaseline(name, { ...m, head: m.head as 'action' })).toBe(true);
  });

  it('rejects a malformed manifest as FRAME_MODEL_INVALID', () => {
    expect(() => parseFrameManifest('{', 'x')).toThrow(expect.objectContaining({ code: 'FRAME_MODEL_INVALID' }));
    expect(() => parseFrameManifest('{"name":"storyteller-frame-model"}', 'x')).toThrow(expect.objectContaining({ code: 'FRAME_MODEL_INVALID' }));
  });
});
