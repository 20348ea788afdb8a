import { Registry } from 'prom-client';
import uWS from 'uWebSockets.js';
import type { SessionEngine } from '../engine/engine.ts';
import { realClocks, type EngineClocks } from '../engine/clock.ts';
import { StorytellerError } from '../errors.ts';
import { moduleLogger, silentLogger, type Logger } from '../logger.ts';
import type { Database } from '../persistence/database.ts';
import { Connection, type ConnectionLimits } from './connection.ts';
import type { DebugTap } from './debug-tap.ts';
import { createGatewayMetrics, type GatewayMetrics } from './gateway-metrics.ts';
import { readiness, type ReadinessReport } from './readiness.ts';
import { CLOSE, type CloseCode } from './protocol.ts';
import { SessionHub, type SceneInfo } from './session-hub.ts';
import { loadStaticFiles, type StaticFile } from './static-files.ts';
import type { TokenSigner } from './tokens.ts';
import type { OwnershipLease } from './ownership-lease.ts';

/**
 * The player gateway (issue 15) on uWebSockets.js: the WebSocket endpoint `/ws`
 * (docs/protocol.md), `GET /healthz`, `/readyz`, `/metrics` and the static web client.
 * It drives the engine only through its public API (SessionEngine / SessionHandle).
 *
 * @example
 * const gateway = await startGateway({ engine, db, tokens: new TokenSigner(secret), defaultStoryId: 'the-lighthouse-keeper', port: 0 });
 * console.log(`open http://127.0.0.1:${gateway.port}/`);
 * await gateway.close();
 */
export interface GatewayOptions {
  engine: SessionEngine;
  db: Database;
  tokens: TokenSigner;
  defaultStoryId: string | null;
  host?: string;
  /** 0 (the default): a free port; read `gateway.port`. */
  port?: number;
  /** The heartbeat timer and the rate limiter read these (a SimulatedClock in tests). */
  clocks?: EngineClocks;
  limits?: Partial<ConnectionLimits>;
  maxConnectionsPerIp?: number;
  /** See SessionHubOptions.ackTimeoutMs (default 10 s). */
  ackTimeoutMs?: number;
  /** Scene names, descriptions and first hints for scene.entered and /hint. */
  describeScene?: (sceneKey: string) => SceneInfo | null;
  /** More registries served by /metrics (the LLM layer's, the ledger's). The engine's is always included. */
  registries?: Registry[];
  debug?: DebugTap | null;
  /** Ownership leases across instances: claimed when a client opens a session here, reported by /readyz. */
  lease?: OwnershipLease | null;
  /** Directory of the web client; null serves none. Default: src/gateway/web. */
  staticDir?: string | null;
  logger?: Logger;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  maxFrameBytes: 16 * 1024,
  heartbeatTimeoutMs: 30_000,
  rate: { perSecond: 20, burst: 40 },
  rateStrikes: 50,
  maxInvalidFrames: 50,
  throttleBytes: 64 * 1024,
  closeBytes: 1024 * 1024,
};

export interface Gateway {
  readonly port: number;
  readonly url: string;
  readonly metrics: GatewayMetrics;
  /** Hubs of sessions with attached clients or warm actors. */
  readonly hubs: ReadonlyMap<string, SessionHub>;
  connections(): number;
  /** Routes a storykeeper verdict to the session's clients (wire as the behaviour's onStorykeeper). */
  storykeeper(sessionId: string, output: Parameters<SessionHub['storykeeper']>[0]): void;
  readiness(): Promise<ReadinessReport>;
  /**
   * Graceful shutdown, step 1: stops listening (new connections go to another instance) and
   * refuses inputs with the retryable ENGINE_SHUTTING_DOWN while the caller checkpoints the sessions.
   */
  drain(): void;
  /** Stops listening and closes every connection (1001 by default; 4503 after a drain); the engine is the caller's to shut down. */
  close(code?: CloseCode, reason?: string): Promise<void>;
}

/**
 * HTTP responses close their connection: the page loads a handful of files once, and no
 * idle keep-alive socket holds the port after close() (a restart on the same port binds).
 */
const CLOSE_HTTP = true;

interface UserData {
  ip: string;
  connection?: Connection;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const engine = options.engine;
  const logger = moduleLogger(options.logger ?? silentLogger, 'gateway');
  const clocks = options.clocks ?? realClocks();
  const limits: ConnectionLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const maxPerIp = options.maxConnectionsPerIp ?? 64;
  const describeScene = options.describeScene ?? (() => null);
  const hubs = new Map<string, SessionHub>();
  const perIp = new Map<string, number>();
  const sockets = new Set<uWS.WebSocket<UserData>>();
  let draining = false;
  const staticFiles: Map<string, StaticFile> = options.staticDir === null ? new Map() : await loadStaticFiles(options.staticDir);

  const metrics = createGatewayMetrics(() => {
    const counts: Record<string, number> = { active: 0, disconnected: 0, suspended: 0 };
    for (const hub of hubs.values()) counts[hub.state] = (counts[hub.state] ?? 0) + 1;
    return counts;
  });
  const registries = [metrics.registry, engine.metrics.registry, ...(options.registries ?? [])];

  const hubOf = (sessionId: string): SessionHub => {
    let hub = hubs.get(sessionId);
    if (!hub) {
      hub = new SessionHub(sessionId, {
        engine,
        describeScene,
        now: clocks.now,
        clock: clocks.clock,
        ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
        ...(options.lease ? { claim: (id: string) => (options.lease as OwnershipLease).claim(id) } : {}),
        observeAck: (ms) => metrics.ackMs.observe(ms),
        observeTurn: (ms) => metrics.turnMs.observe(ms),
        onIdle: (h) => {
          if (hubs.get(h.id) === h) hubs.delete(h.id);
        },
      });
      hubs.set(sessionId, hub);
    }
    return hub;
  };

  const services = {
    tokens: options.tokens,
    limits,
    clock: clocks.clock,
    now: clocks.now,
    logger,
    defaultStoryId: options.defaultStoryId,
    debug: options.debug ?? null,
    async startSession(storyId: string) {
      const handle = await engine.createSession({ storyId });
      await options.lease?.claim(handle.id);
      const hub = hubOf(handle.id);
      hub.adopt(handle, storyId);
      return hub;
    },
    hub: hubOf,
    rejected: (code: string) => metrics.framesRejected.inc({ code }),
    draining: () => draining,
    closed: (code: number) => metrics.closes.inc({ code: String(code) }),
  };

  const app = uWS.App();
  app.ws<UserData>('/ws', {
    // The hard limit: beyond it uWS closes the socket (1009); up to it, frames over
    // maxFrameBytes get a typed PROTOCOL_FRAME_TOO_LARGE.
    maxPayloadLength: limits.maxFrameBytes * 4,
    idleTimeout: Math.max(8, Math.min(960, Math.ceil((limits.heartbeatTimeoutMs * 2) / 1000))),
    sendPingsAutomatically: true,
    maxBackpressure: limits.closeBytes * 2,
    compression: uWS.DISABLED,
    upgrade: (res, req, context) => {
      const ip = Buffer.from(res.getRemoteAddressAsText()).toString();
      if ((perIp.get(ip) ?? 0) >= maxPerIp) {
        metrics.framesRejected.inc({ code: 'CONNECTION_LIMIT' });
        res.writeStatus('429 Too Many Requests').end('too many connections from this address', CLOSE_HTTP);
        return;
      }
      res.upgrade<UserData>({ ip }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      const data = ws.getUserData();
      perIp.set(data.ip, (perIp.get(data.ip) ?? 0) + 1);
      sockets.add(ws);
      metrics.connections.inc();
      data.connection = new Connection(
        {
          send: (text) => ws.send(text, false),
          cork: (write) => void ws.cork(write),
          bufferedAmount: () => ws.getBufferedAmount(),
          end: (code, reason) => ws.end(code, reason),
        },
        services,
      );
    },
    message: (ws, message, isBinary) => {
      try {
        ws.getUserData().connection?.receive(message, isBinary);
      } catch (error) {
        // Defence in depth: Connection.receive already turns every client mistake into a frame.
        logger.error({ err: error }, 'gateway: message handler threw');
      }
    },
    close: (ws) => {
      const data = ws.getUserData();
      sockets.delete(ws);
      metrics.connections.dec();
      const n = (perIp.get(data.ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(data.ip);
      else perIp.set(data.ip, n);
      data.connection?.closedBySocket();
    },
  });

  app.get('/healthz', (res) => {
    res.writeHeader('content-type', 'text/plain').end('ok\n', CLOSE_HTTP);
  });
  const ready = () => readiness(options.db, options.lease?.status() ?? null);
  app.get('/readyz', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void ready().then((report) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(report.ready ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json').end(JSON.stringify(report), CLOSE_HTTP);
      });
    });
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void Promise.all(registries.map((r) => r.metrics())).then(
      (texts) => {
        if (aborted) return;
        res.cork(() => {
          res.writeHeader('content-type', Registry.PROMETHEUS_CONTENT_TYPE).end(texts.filter((t) => t.length > 0).join('\n'), CLOSE_HTTP);
        });
      },
      (error: unknown) => {
        logger.error({ err: error }, 'gateway: metrics failed');
        if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end(undefined, CLOSE_HTTP));
      },
    );
  });
  app.get('/*', (res, req) => {
    const url = req.getUrl();
    const file = staticFiles.get(url === '/' ? '/index.html' : url);
    if (!file) {
      res.writeStatus('404 Not Found').writeHeader('content-type', 'text/plain').end('not found\n', CLOSE_HTTP);
      return;
    }
    res
      .writeHeader('content-type', file.contentType)
      .writeHeader('cache-control', 'no-cache')
      .writeHeader('x-content-type-options', 'nosniff')
      .writeHeader('content-security-policy', "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'")
      .end(file.body, CLOSE_HTTP);
  });
  app.any('/*', (res) => {
    res.writeStatus('405 Method Not Allowed').end(undefined, CLOSE_HTTP);
  });

  const host = options.host ?? '127.0.0.1';
  const listenSocket = await listen(app, host, options.port ?? 0, logger);
  const port = uWS.us_socket_local_port(listenSocket);
  let closed = false;
  let listening = true;
  const stopListening = () => {
    if (!listening) return;
    listening = false;
    uWS.us_listen_socket_close(listenSocket);
  };

  return {
    port,
    url: `http://${host}:${port}`,
    metrics,
    hubs,
    connections: () => sockets.size,
    storykeeper(sessionId, output) {
      hubs.get(sessionId)?.storykeeper(output);
    },
    readiness: ready,
    drain() {
      draining = true;
      stopListening();
    },
    async close(code: CloseCode = CLOSE.GOING_AWAY, reason = 'server shutting down') {
      if (closed) return;
      closed = true;
      stopListening();
      for (const ws of [...sockets]) {
        try {
          ws.getUserData().connection?.close(code, reason);
        } catch {
          // closed meanwhile
        }
      }
      // Let uWS deliver the close frames and run the close handlers.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

/**
 * Listens, retrying a fixed port for up to 75 s: this uWebSockets.js build binds without
 * SO_REUSEADDR, so right after a restart the port is held by the previous run's
 * connections in TIME_WAIT (60 s on Linux).
 */
async function listen(app: uWS.TemplatedApp, host: string, port: number, logger: Logger): Promise<uWS.us_listen_socket> {
  for (let attempt = 0; ; attempt++) {
    const socket = await new Promise<uWS.us_listen_socket | false>((resolve) => app.listen(host, port, resolve));
    if (socket) return socket;
    if (attempt === 0 && port !== 0) logger.warn({ host, port }, 'gateway: the port is busy (the previous run\'s connections in TIME_WAIT?); retrying for up to 75 s');
    if (port === 0 || attempt >= 150) throw new StorytellerError('CONFIG_INVALID', `the gateway cannot listen on ${host}:${port}`, { details: { variables: ['STORYTELLER_HOST', 'STORYTELLER_PORT'] } });
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
