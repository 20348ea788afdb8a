import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isStorytellerError } from '../errors.ts';
import { conflictBody, taskRequestSchema } from './contract.ts';
import type { LocalRunner } from './local-runner.ts';

/**
 * Tasker Core's REST surface, the part the bridge uses (contract §6): `POST /v1/tasks`
 * (body = the TaskRequest alone; 200 + TaskResponse, 400 invalid, 404 unknown template,
 * 409 duplicate identity) and `GET /v1/tasks/{uuid}`, plus `/health`.
 */
export interface RunnerHttp {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const MAX_BODY = 256 * 1024;

/**
 * `token`: when set, `/v1/*` requires `Authorization: Bearer <token>` (401 otherwise), as
 * Tasker Core does with auth enabled (contract §6); `/health` stays open.
 */
export async function serveRunner(runner: LocalRunner, options: { host?: string; port?: number; token?: string | undefined } = {}): Promise<RunnerHttp> {
  const server = createServer((req, res) => {
    if (options.token && (req.url ?? '/').startsWith('/v1/') && !bearerMatches(req.headers.authorization, options.token)) {
      send(res, 401, { error: { code: 'UNAUTHORIZED', message: 'missing or invalid bearer token' } });
      return;
    }
    void route(runner, req, res).catch(() => send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } }));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function route(runner: LocalRunner, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method === 'GET' && (path === '/health' || path === '/health/ready')) return send(res, 200, { status: 'healthy' });
  if (req.method === 'POST' && path === '/v1/tasks') {
    const body = await readBody(req);
    if (body === null) return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'body is not JSON or too large' } });
    const parsed = taskRequestSchema.safeParse(body);
    if (!parsed.success) return send(res, 400, { error: { code: 'BAD_REQUEST', message: `${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}` } });
    try {
      const outcome = await runner.createTask(parsed.data);
      return outcome.status === 'duplicate' ? send(res, 409, conflictBody) : send(res, 200, outcome.task);
    } catch (error) {
      if (isStorytellerError(error) && error.code === 'WORKFLOW_MESSAGE_INVALID') return send(res, 404, { error: { code: 'NOT_FOUND', message: error.message } });
      throw error;
    }
  }
  const m = /^\/v1\/tasks\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && m) {
    const task = await runner.getTask(decodeURIComponent(m[1] as string));
    return task ? send(res, 200, task) : send(res, 404, { error: { code: 'NOT_FOUND', message: 'no such task' } });
  }
  send(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1] as string);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<unknown | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return resolve(null);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        resolve(null);
      }
    });
    req.on('error', () => resolve(null));
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
