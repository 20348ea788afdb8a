import { expect } from 'vitest';
import { AnthropicProvider } from '../../../src/inference/llm/anthropic.ts';
import { startLoopbackAnthropic } from '../../support/loopback-anthropic.ts';
import { describeHttpProvider } from './llm-http-provider-suite.ts';

// The real @anthropic-ai/sdk (maxRetries: 0) against a loopback Messages API.
describeHttpProvider({
  title: 'AnthropicProvider on @anthropic-ai/sdk (loopback Messages API)',
  start: () => startLoopbackAnthropic(),
  make: (url) => new AnthropicProvider({ apiKey: 'test-key', model: 'claude-loopback', baseURL: url }),
  overloadStatus: 529,
  expectStructuredRequest(body, schema) {
    expect(body.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(body.system).toBe('You narrate.');
  },
});
