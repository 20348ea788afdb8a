import type { ServerResponse } from 'node:http';
import { type Behaviour, countWords, type LoopbackLlmServer, type RecordedRequest, startLoopbackLlmServer, words } from './loopback-llm-server.ts';

/**
 * A loopback Anthropic Messages API (`POST /v1/messages`): JSON replies, the SSE event sequence
 * (message_start, content_block_start, ping, content_block_delta…, content_block_stop,
 * message_delta with usage, message_stop), and error bodies `{type:'error', error:{type,message}}`
 * for 429 rate_limit_error, 529 overloaded_error, 500 api_error, 400 invalid_request_error.
 *
 * @example
 * const server = await startLoopbackAnthropic();
 * server.enqueue({ kind: 'error', status: 429, retryAfter: '0' }, { kind: 'text', text: 'ok' });
 * new Anthropic({ apiKey: 'test', baseURL: server.url, maxRetries: 0 });
 */
export type { Behaviour, LoopbackLlmServer };

const MODEL = 'claude-loopback';

function errorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status === 400) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  return 'api_error';
}

function inputTokens(req: RecordedRequest): number {
  const messages = Array.isArray(req.body.messages) ? (req.body.messages as Array<{ content?: unknown }>) : [];
  const text = [typeof req.body.system === 'string' ? req.body.system : '', ...messages.map((m) => (typeof m.content === 'string' ? m.content : ''))].join(' ');
  return countWords(text);
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function startStream(res: ServerResponse, inTokens: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_loopback' });
  sse(res, 'message_start', {
    type: 'message_start',
    message: { id: 'msg_loopback', type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inTokens, output_tokens: 1 } },
  });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  sse(res, 'ping', { type: 'ping' });
}

function respond(behaviour: Behaviour, req: RecordedRequest, res: ServerResponse): void {
  const streaming = req.body.stream === true;
  switch (behaviour.kind) {
    case 'error': {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': 'req_loopback' };
      if (behaviour.retryAfter !== undefined) headers['retry-after'] = behaviour.retryAfter;
      res.writeHead(behaviour.status, headers);
      res.end(JSON.stringify({ type: 'error', error: { type: behaviour.type ?? errorType(behaviour.status), message: behaviour.message ?? `loopback ${behaviour.status}` } }));
      return;
    }
    case 'hang':
      return;
    case 'partial-stream':
      startStream(res, inputTokens(req));
      for (const text of behaviour.chunks) sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
      return;
    case 'text': {
      const inTokens = behaviour.inputTokens ?? inputTokens(req);
      const outTokens = behaviour.outputTokens ?? countWords(behaviour.text);
      if (!streaming) {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_loopback' });
        res.end(
          JSON.stringify({
            id: 'msg_loopback',
            type: 'message',
            role: 'assistant',
            model: MODEL,
            content: [{ type: 'text', text: behaviour.text }],
            stop_reason: 'end_turn',
            stop_sequence: null,
            usage: { input_tokens: inTokens, output_tokens: outTokens },
          }),
        );
        return;
      }
      startStream(res, inTokens);
      for (const text of words(behaviour.text)) sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
      sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
      sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: outTokens } });
      sse(res, 'message_stop', { type: 'message_stop' });
      res.end();
      return;
    }
  }
}

/** Starts the server; by default every request gets the reply "Hello from the loopback." */
export function startLoopbackAnthropic(defaultText = 'Hello from the loopback.'): Promise<LoopbackLlmServer> {
  return startLoopbackLlmServer({ defaultReply: () => ({ kind: 'text', text: defaultText }), respond });
}
