import { expect } from 'vitest';
import { OpenAICompatibleProvider } from '../../../src/inference/llm/openai-compatible.ts';
import { startLoopbackOpenAI } from '../../support/loopback-openai.ts';
import { describeHttpProvider } from './llm-http-provider-suite.ts';

// OpenAICompatibleProvider (fetch + SSE) against a loopback /v1/chat/completions server.
describeHttpProvider({
  title: 'OpenAICompatibleProvider over fetch (loopback /v1/chat/completions)',
  start: () => startLoopbackOpenAI(),
  make: (url) => new OpenAICompatibleProvider({ baseUrl: `${url}/v1`, model: 'loopback', apiKey: 'k' }),
  overloadStatus: 503,
  expectStructuredRequest(body, schema) {
    expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } });
    expect((body.messages as Array<{ role: string }>)[0]).toEqual({ role: 'system', content: 'You narrate.' });
  },
});
