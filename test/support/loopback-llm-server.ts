import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Shared machinery of the loopback LLM servers: a real node:http server on 127.0.0.1:0 that
 * answers each request with the next queued behaviour (or the default reply), records every
 * request body, and lets tests await "n requests have arrived" instead of sleeping.
 */
export type Behaviour =
  | { kind: 'text'; text: string; inputTokens?: number; outputTokens?: number }
  | { kind: 'error'; status: number; type?: string; message?: string; retryAfter?: string }
  /** Accept the request and never answer (timeouts, cancellation before the first byte). */
  | { kind: 'hang' }
  /** Stream the first `chunks`, then stay open (cancellation mid-stream). */
  | { kind: 'partial-stream'; chunks: string[] };

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface LoopbackLlmServer {
  url: string;
  requests: RecordedRequest[];
  /** Queue behaviours for the next requests, in order. */
  enqueue(...behaviours: Behaviour[]): void;
  /** Resolves once `count` requests in total have arrived. */
  waitForRequests(count: number): Promise<void>;
  /** Resolves once a client connection that was left open (hang / partial stream) is closed by the client. */
  waitForClientClose(): Promise<void>;
  close(): Promise<void>;
}

export type Responder = (behaviour: Behaviour, req: RecordedRequest, res: ServerResponse) => void;

export async function startLoopbackLlmServer(options: { defaultReply: (req: RecordedRequest) => Behaviour; respond: Responder }): Promise<LoopbackLlmServer> {
  const queue: Behaviour[] = [];
  const requests: RecordedRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const closeWaiters: Array<() => void> = [];
  let clientCloses = 0;
  let closeWaitersServed = 0;

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        body = {};
      }
      const recorded: RecordedRequest = { path: req.url ?? '/', headers: req.headers, body };
      requests.push(recorded);
      const behaviour = queue.shift() ?? options.defaultReply(recorded);
      if (behaviour.kind === 'hang' || behaviour.kind === 'partial-stream') {
        res.on('close', () => {
          clientCloses += 1;
          while (closeWaitersServed < clientCloses && closeWaiters.length > 0) {
            closeWaitersServed += 1;
            closeWaiters.shift()!();
          }
        });
      }
      options.respond(behaviour, recorded, res);
      for (const w of [...waiters]) {
        if (requests.length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...b) => queue.push(...b),
    waitForRequests: (count) => (requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    waitForClientClose: () =>
      new Promise<void>((resolve) => {
        if (closeWaitersServed < clientCloses) {
          closeWaitersServed += 1;
          resolve();
        } else closeWaiters.push(resolve);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Rough word count, the loopbacks' token count. */
export function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Splits text into word chunks that concatenate back to it. */
export function words(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? [];
}
