import { describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../src/errors.ts';
import { parseStructuredReply } from '../../src/inference/llm/json-output.ts';
import type { CompletionRequest, StreamChunk } from '../../src/inference/llm/provider.ts';
import { ScriptedProvider, minimalJsonFor, wordChunks } from '../../src/inference/llm/scripted.ts';

const req = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({ role: 'narrator', messages: [{ role: 'user', content: 'look around' }], maxTokens: 100, ...over });

describe('ScriptedProvider', () => {
  it('replies with what the script renders from the request, deterministically', async () => {
    const p = new ScriptedProvider({ script: (r) => `The ${String(r.context?.place)} is quiet. You said: ${r.messages.at(-1)!.content}.` });
    const a = await p.complete(req({ context: { place: 'lighthouse' } }));
    const b = await p.complete(req({ context: { place: 'lighthouse' } }));
    expect(a.text).toBe('The lighthouse is quiet. You said: look around.');
    expect(b).toEqual(a);
    expect(a.provider).toBe('scripted');
    expect(a.usage.outputTokens).toBeGreaterThan(0);
  });

  it('streams word chunks that concatenate to the complete text, then done', async () => {
    const p = new ScriptedProvider({ script: () => 'Waves  break\non the rocks. ' });
    const chunks: StreamChunk[] = [];
    for await (const c of p.completeStreaming(req())) chunks.push(c);
    const texts = chunks.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text);
    expect(texts).toEqual(['Waves  ', 'break\n', 'on ', 'the ', 'rocks. ']);
    expect(texts.join('')).toBe((await p.complete(req())).text);
    expect(chunks.at(-1)).toMatchObject({ type: 'done', stopReason: 'end_turn' });
  });

  it('cancels mid-stream with LLM_ABORTED', async () => {
    const p = new ScriptedProvider({ script: () => 'one two three four' });
    const controller = new AbortController();
    const seen: string[] = [];
    const run = (async () => {
      for await (const c of p.completeStreaming(req({ signal: controller.signal }))) {
        if (c.type === 'text') seen.push(c.text);
        if (seen.length === 2) controller.abort();
      }
    })();
    await expect(run).rejects.toSatisfy((e) => isStorytellerError(e, 'LLM_ABORTED'));
    expect(seen).toEqual(['one ', 'two ']);
  });

  it('the default script answers a schema request with valid minimal JSON', async () => {
    const schema = { type: 'object', properties: { intent: { type: 'string', enum: ['speak', 'act'] }, weight: { type: 'number', minimum: 0.5 }, tags: { type: 'array', items: { type: 'string' }, minItems: 1 } }, required: ['intent', 'weight', 'tags'] };
    const r = await new ScriptedProvider().complete(req({ jsonSchema: schema }));
    expect(JSON.parse(r.text)).toEqual({ intent: 'speak', weight: 0.5, tags: [''] });
    expect(parseStructuredReply('scripted', r.text, schema)).toEqual({ intent: 'speak', weight: 0.5, tags: [''] });
    expect(minimalJsonFor({ type: 'boolean' })).toBe(false);
  });

  it('wordChunks keeps every character', () => {
    for (const s of ['', '   ', 'a', ' lead', 'trail ', 'x  y\tz\n']) expect(wordChunks(s).join('')).toBe(s);
  });
});

describe('structured reply check', () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer', maximum: 3 } }, required: ['ok'], additionalProperties: false };
  it.each([
    ['not json', 'not JSON'],
    ['[1]', 'expected object'],
    ['{}', '$.ok (missing)'],
    ['{"ok":1}', '$.ok (expected boolean'],
    ['{"ok":true,"n":4}', '$.n (above maximum)'],
    ['{"ok":true,"extra":1}', '$.extra (not allowed)'],
  ])('%s → LLM_OUTPUT_INVALID (%s)', (text, fragment) => {
    try {
      parseStructuredReply('p', text, schema);
      throw new Error('accepted');
    } catch (error) {
      expect(isStorytellerError(error, 'LLM_OUTPUT_INVALID')).toBe(true);
      expect((error as Error).message).toContain(fragment);
    }
  });
  it('accepts a conforming value', () => {
    expect(parseStructuredReply('p', '{"ok":false,"n":2}', schema)).toEqual({ ok: false, n: 2 });
  });
});
