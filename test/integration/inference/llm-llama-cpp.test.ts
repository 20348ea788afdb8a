import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { LlamaCppProvider } from '../../../src/inference/llm/llama-cpp.ts';
import type { StreamChunk } from '../../../src/inference/llm/provider.ts';
import { buildTinyLlamaGguf, writeTinyLlamaGguf } from '../../support/tiny-gguf.ts';

// node-llama-cpp 3.21.1 on a tiny llama GGUF the test writes itself (seeded weights, byte vocabulary),
// CPU only, threads: 1, prebuilt binary only (build: 'never') — nothing downloaded or compiled.
describe('LlamaCppProvider on node-llama-cpp (tiny seeded GGUF)', () => {
  let dir: string;
  let provider: LlamaCppProvider;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'storyteller-gguf-'));
    const modelPath = await writeTinyLlamaGguf(join(dir, 'tiny.gguf'), { seed: 7, contextLength: 1024 });
    provider = new LlamaCppProvider({ modelPath, threads: 1, contextSize: 1024 });
    await provider.load();
  });

  afterAll(async () => {
    await provider?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the same bytes for the same seed (GGUF v3 header)', () => {
    const a = buildTinyLlamaGguf({ seed: 3 });
    expect(a.subarray(0, 4).toString('ascii')).toBe('GGUF');
    expect(a.readUInt32LE(4)).toBe(3);
    expect(a.equals(buildTinyLlamaGguf({ seed: 3 }))).toBe(true);
    expect(a.equals(buildTinyLlamaGguf({ seed: 4 }))).toBe(false);
  });

  it('loads and generates a few tokens, deterministically at temperature 0', async () => {
    const req = { role: 'character' as const, system: 'You are Mara.', messages: [{ role: 'user' as const, content: 'Hello' }], maxTokens: 6 };
    const a = await provider.complete(req);
    const b = await provider.complete(req);
    expect(a.provider).toBe('local');
    expect(a.usage.outputTokens).toBeGreaterThan(0);
    expect(a.usage.outputTokens).toBeLessThanOrEqual(6);
    expect(a.usage.inputTokens).toBeGreaterThan(0);
    expect(a.stopReason).not.toBeNull();
    expect(b.text).toBe(a.text);
  });

  it('streams the same text it completes', async () => {
    const req = { role: 'character' as const, messages: [{ role: 'user' as const, content: 'Where is the lamp?' }], maxTokens: 5 };
    const whole = await provider.complete(req);
    const chunks: StreamChunk[] = [];
    for await (const c of provider.completeStreaming(req)) chunks.push(c);
    expect(chunks.at(-1)?.type).toBe('done');
    expect(chunks.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text).join('')).toBe(whole.text);
  });

  it('JSON-schema-constrained output parses and has the schema', async () => {
    const schema = {
      type: 'object',
      properties: { mood: { type: 'string', enum: ['calm', 'afraid'] }, speaks: { type: 'boolean' } },
      required: ['mood', 'speaks'],
      additionalProperties: false,
    };
    const r = await provider.complete({ role: 'stage4', messages: [{ role: 'user', content: 'Classify.' }], maxTokens: 40, jsonSchema: schema });
    const value = JSON.parse(r.text) as { mood: string; speaks: boolean };
    expect(['calm', 'afraid']).toContain(value.mood);
    expect(typeof value.speaks).toBe('boolean');
    expect(Object.keys(value).sort()).toEqual(['mood', 'speaks']);
  });

  it('JSON cut short by maxTokens is LLM_OUTPUT_INVALID', async () => {
    const schema = { type: 'object', properties: { mood: { type: 'string', enum: ['calm', 'afraid'] } }, required: ['mood'] };
    await expect(provider.complete({ role: 'stage4', messages: [{ role: 'user', content: 'Classify.' }], maxTokens: 3, jsonSchema: schema })).rejects.toSatisfy((e) =>
      isStorytellerError(e, 'LLM_OUTPUT_INVALID'),
    );
  });

  it('an already-aborted signal is LLM_ABORTED', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      provider.complete({ role: 'character', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 4, signal: controller.signal }),
    ).rejects.toSatisfy((e) => isStorytellerError(e, 'LLM_ABORTED'));
  });

  it('aborting mid-generation is LLM_ABORTED', async () => {
    const controller = new AbortController();
    const run = (async () => {
      for await (const c of provider.completeStreaming({ role: 'character', messages: [{ role: 'user', content: 'Talk' }], maxTokens: 200, signal: controller.signal })) {
        if (c.type === 'text') controller.abort();
      }
    })();
    await expect(run).rejects.toSatisfy((e) => isStorytellerError(e, 'LLM_ABORTED'));
    // The provider is still usable afterwards.
    const r = await provider.complete({ role: 'character', messages: [{ role: 'user', content: 'Again' }], maxTokens: 3 });
    expect(r.usage.outputTokens).toBeGreaterThan(0);
  });

  it('a consumer that stops reading stops the generation and frees the model', async () => {
    const seen: string[] = [];
    for await (const c of provider.completeStreaming({ role: 'character', messages: [{ role: 'user', content: 'Go on' }], maxTokens: 200 })) {
      if (c.type === 'text') seen.push(c.text);
      if (seen.length === 1) break;
    }
    expect(seen).toHaveLength(1);
    const r = await provider.complete({ role: 'character', messages: [{ role: 'user', content: 'Next' }], maxTokens: 3 });
    expect(r.usage.outputTokens).toBeGreaterThan(0);
  });

  it('a missing model file is LLM_UNAVAILABLE', async () => {
    const missing = new LlamaCppProvider({ modelPath: join(dir, 'nope.gguf') });
    await expect(missing.complete({ role: 'character', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 2 })).rejects.toSatisfy((e) =>
      isStorytellerError(e, 'LLM_UNAVAILABLE'),
    );
  });
});
