import type { ServerResponse } from 'node:http';
import { type Behaviour, countWords, type LoopbackLlmServer, type RecordedRequest, startLoopbackLlmServer, words } from './loopback-llm-server.ts';

/**
 * A loopback OpenAI-compatible chat completions server (`POST /v1/chat/completions`), as Ollama,
 * vLLM and llama.cpp server speak it: JSON replies, SSE `data: {chunk}` lines ending in
 * `data: [DONE]` (usage in the last chunk when `stream_options.include_usage`), and error
 * bodies `{error:{message,type}}` with 429 / 503 / 500 / 400.
 *
 * @example
 * const server = await startLoopbackOpenAI();
 * new OpenAICompatibleProvider({ baseUrl: server.url, model: 'loopback' });
 */
export type { Behaviour, LoopbackLlmServer };

function promptTokens(req: RecordedRequest): number {
  const messages = Array.isArray(req.body.messages) ? (req.body.messages as Array<{ content?: unknown }>) : [];
  return countWords(messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join(' '));
}

function chunk(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

function delta(content: string | undefined, finish: string | null): unknown {
  return { id: 'chatcmpl-loopback', object: 'chat.completion.chunk', created: 0, model: 'loopback', choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }] };
}

function respond(behaviour: Behaviour, req: RecordedRequest, res: ServerResponse): void {
  const streaming = req.body.stream === true;
  switch (behaviour.kind) {
    case 'error': {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (behaviour.retryAfter !== undefined) headers['retry-after'] = behaviour.retryAfter;
      res.writeHead(behaviour.status, headers);
      res.end(JSON.stringify({ error: { message: behaviour.message ?? `loopback ${behaviour.status}`, type: behaviour.type ?? (behaviour.status === 400 ? 'invalid_request_error' : 'server_error') } }));
      return;
    }
    case 'hang':
      return;
    case 'partial-stream':
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      chunk(res, { ...(delta(undefined, null) as object), choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
      for (const text of behaviour.chunks) chunk(res, delta(text, null));
      return;
    case 'text': {
      const prompt = behaviour.inputTokens ?? promptTokens(req);
      const completion = behaviour.outputTokens ?? countWords(behaviour.text);
      const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
      if (!streaming) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-loopback',
            object: 'chat.completion',
            created: 0,
            model: 'loopback',
            choices: [{ index: 0, message: { role: 'assistant', content: behaviour.text }, finish_reason: 'stop' }],
            usage,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      chunk(res, { ...(delta(undefined, null) as object), choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
      for (const text of words(behaviour.text)) chunk(res, delta(text, null));
      chunk(res, delta(undefined, 'stop'));
      const options = req.body.stream_options as { include_usage?: boolean } | undefined;
      if (options?.include_usage) chunk(res, { id: 'chatcmpl-loopback', object: 'chat.completion.chunk', created: 0, model: 'loopback', choices: [], usage });
      res.write('data: [DONE]\n\n');
      res.end();
      return;
    }
  }
}

/** Starts the server; by default every request gets the reply "Hello from the loopback." */
export function startLoopbackOpenAI(defaultText = 'Hello from the loopback.'): Promise<LoopbackLlmServer> {
  return startLoopbackLlmServer({ defaultReply: () => ({ kind: 'text', text: defaultText }), respond });
}
