import { isStorytellerError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Clock } from '../engine/clock.ts';
import { CLOSE, PROTOCOL_VERSION, SUPPORTED_VERSIONS, decodeClientFrame, peekInputId, encodeServerFrame, type ClientFrame, type CloseCode, type DecodedClientFrame, type ServerFrame } from './protocol.ts';
import { RateLimiter } from './rate-limiter.ts';
import type { SessionHub, Subscriber } from './session-hub.ts';
import type { TokenClaims, TokenSigner } from './tokens.ts';
import type { DebugTap } from './debug-tap.ts';

/**
 * One WebSocket connection's side of the protocol (docs/protocol.md): hello first
 * (authentication before anything else), then at most one session, inputs, saves,
 * hints, pings, the debug subscription. Every bad frame gets a typed `error` or a close
 * with a documented code; nothing a client sends can throw out of here.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface Socket {
  /** uWS send: 0 backpressure building, 1 sent, 2 dropped. */
  send(text: string): number;
  /** Runs `write` with the socket corked: its sends leave in one syscall. */
  cork(write: () => void): void;
  bufferedAmount(): number;
  end(code: number, reason: string): void;
}

export interface ConnectionLimits {
  maxFrameBytes: number;
  heartbeatTimeoutMs: number;
  rate: { perSecond: number; burst: number };
  /** Refused frames in a row beyond the rate before the connection is closed (4429). */
  rateStrikes: number;
  /** Invalid frames before the connection is closed (4400). */
  maxInvalidFrames: number;
  /** Above this many buffered bytes droppable frames (narrative chunks) are skipped… */
  throttleBytes: number;
  /** …and above this the slow reader is closed (4508). */
  closeBytes: number;
}

export interface ConnectionServices {
  tokens: TokenSigner;
  limits: ConnectionLimits;
  clock: Clock;
  now: () => number;
  logger: Logger;
  defaultStoryId: string | null;
  debug: DebugTap | null;
  /** Creates a session and its hub (session.start). */
  startSession(storyId: string): Promise<SessionHub>;
  /** The hub of an existing session (session.resume). */
  hub(sessionId: string): SessionHub;
  rejected(code: string): void;
  closed(code: number): void;
  /** Graceful shutdown under way: inputs and session requests are refused (retryable), nothing new starts here. */
  draining?: () => boolean;
}

/** Connections with frames queued in this event-loop iteration; flushed once, after its I/O. */
const unflushed = new Set<Connection>();
let flushScheduled = false;
function scheduleFlush(connection: Connection): void {
  unflushed.add(connection);
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(() => {
    flushScheduled = false;
    for (const c of unflushed) c.flush();
    unflushed.clear();
  });
}

export class Connection implements Subscriber {
  readonly #socket: Socket;
  #outbox: string[] = [];
  #outboxBytes = 0;
  readonly #s: ConnectionServices;
  readonly #limiter: RateLimiter;
  #claims: TokenClaims | null = null;
  #hub: SessionHub | null = null;
  #attaching = false;
  #invalid = 0;
  #strikes = 0;
  #open = true;
  #heartbeat: unknown = null;
  #debugOff: (() => void) | null = null;
  /**
   * An input refused for the rate: later inputs of this connection are refused too until
   * it comes again, so a retried line never lands behind a line typed after it.
   */
  #rateGate: string | null = null;
  /** Frames of the session emitted while attaching: sent after session.ready. */
  #held: Array<{ frame: ServerFrame; droppable: boolean }> | null = null;

  constructor(socket: Socket, services: ConnectionServices) {
    this.#socket = socket;
    this.#s = services;
    this.#limiter = new RateLimiter({ ...services.limits.rate, now: services.now });
    this.#armHeartbeat();
  }

  get sessionId(): string | null {
    return this.#hub?.id ?? null;
  }

  /** A text or binary frame from the socket (already within uWS's hard size limit). */
  receive(data: ArrayBuffer, isBinary: boolean): void {
    if (!this.#open) return;
    this.#armHeartbeat();
    if (!this.#limiter.take()) {
      this.#strikes += 1;
      if (this.#strikes > this.#s.limits.rateStrikes) return this.close(CLOSE.RATE_LIMITED, 'rate limit exceeded');
      // An input is named in the refusal, so the client retries that line (and it is never dropped).
      const refusedInput = this.#claims && data.byteLength <= this.#s.limits.maxFrameBytes && !isBinary ? this.#peekInput(data) : null;
      if (refusedInput !== null) this.#rateGate ??= refusedInput;
      return this.#refuse('RATE_LIMITED', 'too many frames; slow down', refusedInput === null ? undefined : 'input', refusedInput ?? undefined);
    }
    this.#strikes = 0;
    const problem = this.#read(data, isBinary);
    if (!problem.ok) {
      // Authentication before anything else: an unreadable first frame is not a hello.
      if (!this.#claims) return this.#authRequired();
      return this.#invalidFrame(problem.code, problem.message, problem.ref);
    }
    const decoded = problem;
    try {
      this.#handle(decoded.frame);
    } catch (error) {
      this.#s.logger.error({ err: error, frame: decoded.frame.type }, 'gateway: frame handler failed');
      this.#refuse('PROTOCOL_FRAME_INVALID', 'the frame could not be handled', decoded.frame.type);
    }
  }

  #read(data: ArrayBuffer, isBinary: boolean): DecodedClientFrame | { ok: false; code: 'PROTOCOL_FRAME_TOO_LARGE'; message: string; ref?: string } {
    if (data.byteLength > this.#s.limits.maxFrameBytes) return { ok: false, code: 'PROTOCOL_FRAME_TOO_LARGE', message: `frames are limited to ${this.#s.limits.maxFrameBytes} bytes` };
    if (isBinary) return { ok: false, code: 'PROTOCOL_FRAME_INVALID', message: 'binary frames are not part of the protocol' };
    let text: string;
    try {
      text = UTF8.decode(data);
    } catch {
      return { ok: false, code: 'PROTOCOL_FRAME_INVALID', message: 'not UTF-8' };
    }
    return decodeClientFrame(text);
  }

  #peekInput(data: ArrayBuffer): string | null {
    try {
      return peekInputId(UTF8.decode(data));
    } catch {
      return null;
    }
  }

  #authRequired(ref?: string): void {
    this.#refuse('AUTH_REQUIRED', 'the first frame must be a valid hello', ref);
    this.close(CLOSE.AUTH_FAILED, 'hello required');
  }

  /** The socket closed (any reason): detach from the session (the last one starts its grace period). */
  closedBySocket(): void {
    if (!this.#open) return this.#cleanup();
    this.#open = false;
    this.#cleanup();
  }

  send(frame: ServerFrame, droppable = false): void {
    if (!this.#open) return;
    if (this.#held && frame.type !== 'session.ready' && frame.type !== 'error') {
      this.#held.push({ frame, droppable });
      return;
    }
    if (droppable && this.#socket.bufferedAmount() + this.#outboxBytes > this.#s.limits.throttleBytes) return;
    const text = encodeServerFrame(frame);
    this.#outbox.push(text);
    this.#outboxBytes += text.length;
    // An ack leaves now (the player waits on it); the turn's frames wait for the iteration's end.
    if (frame.type === 'ack') this.flush();
    else if (this.#outbox.length === 1) scheduleFlush(this);
  }

  /**
   * Writes the frames queued since the last flush in one corked write. A turn's frames
   * (turn.started, chunks, narrative.done) mostly arise in one event-loop iteration,
   * outside any uWS callback, where each uncorked send would be its own syscall.
   */
  flush(): void {
    if (this.#outbox.length === 0) return;
    const frames = this.#outbox;
    this.#outbox = [];
    this.#outboxBytes = 0;
    if (!this.#open) return;
    let slow = false;
    this.#socket.cork(() => {
      for (const text of frames) {
        this.#socket.send(text);
        if (this.#socket.bufferedAmount() > this.#s.limits.closeBytes) {
          slow = true;
          break;
        }
      }
    });
    if (slow || this.#socket.bufferedAmount() > this.#s.limits.closeBytes) this.close(CLOSE.SLOW_READER, 'slow reader');
  }

  moved(): void {
    this.close(CLOSE.SESSION_MOVED, 'session moved to another instance');
  }

  close(code: CloseCode, reason: string): void {
    if (!this.#open) return;
    // What was said before the close (the error that explains it) goes first.
    if (code !== CLOSE.SLOW_READER) this.flush();
    this.#open = false;
    this.#s.closed(code);
    this.#cleanup();
    try {
      this.#socket.end(code, reason);
    } catch {
      // already closed underneath
    }
  }

  #cleanup(): void {
    if (this.#heartbeat !== null) this.#s.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = null;
    this.#debugOff?.();
    this.#debugOff = null;
    const hub = this.#hub;
    this.#hub = null;
    hub?.detach(this);
  }

  #armHeartbeat(): void {
    if (this.#heartbeat !== null) this.#s.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = this.#s.clock.setTimeout(() => {
      this.#heartbeat = null;
      this.close(CLOSE.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
    }, this.#s.limits.heartbeatTimeoutMs);
  }

  #refuse(code: ErrorCode | string, message: string, ref?: string, clientInputId?: string): void {
    this.#s.rejected(code);
    this.send({ type: 'error', code, message, ...(ref ? { ref } : {}), ...(clientInputId ? { clientInputId } : {}) });
  }

  #invalidFrame(code: ErrorCode, message: string, ref?: string): void {
    this.#invalid += 1;
    this.#refuse(code, message, ref);
    if (this.#invalid >= this.#s.limits.maxInvalidFrames) this.close(CLOSE.TOO_MANY_INVALID_FRAMES, 'too many invalid frames');
  }

  #handle(frame: ClientFrame): void {
    if (frame.type === 'hello') return this.#hello(frame);
    if (!this.#claims) return this.#authRequired(frame.type);
    if (this.#s.draining?.() && (frame.type === 'input' || frame.type === 'session.start' || frame.type === 'session.resume')) {
      // The client keeps the line and sends it again after the 4503 close, to another instance.
      return this.#refuse('ENGINE_SHUTTING_DOWN', 'this server is shutting down; your session moves to another instance', frame.type, frame.type === 'input' ? frame.clientInputId : undefined);
    }
    switch (frame.type) {
      case 'ping':
        return this.send({ type: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) });
      case 'session.start':
        return this.#start(frame.storyId ?? this.#s.defaultStoryId);
      case 'session.resume':
        return this.#resume(frame.sessionId);
      case 'input':
        if (!this.#hub) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'start or resume a session first', 'input', frame.clientInputId);
        if (this.#rateGate !== null) {
          if (frame.clientInputId !== this.#rateGate) return this.#refuse('RATE_LIMITED', 'an earlier input was refused for the rate: send it again first', 'input', frame.clientInputId);
          this.#rateGate = null;
        }
        return this.#hub.input(this, frame.clientInputId, frame.text);
      case 'save':
        if (!this.#hub) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'start or resume a session first', 'save');
        return this.#hub.save(this);
      case 'hint':
        if (!this.#hub) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'start or resume a session first', 'hint');
        return this.send({ type: 'hint', text: this.#hub.hint });
      case 'debug.subscribe':
        return this.#debug();
    }
  }

  #hello(frame: Extract<ClientFrame, { type: 'hello' }>): void {
    if (this.#claims) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'hello was already received', 'hello');
    if (!SUPPORTED_VERSIONS.includes(frame.v)) {
      this.#refuse('PROTOCOL_VERSION_UNSUPPORTED', `protocol version ${frame.v} is not supported; this server speaks ${SUPPORTED_VERSIONS.join(', ')}`, 'hello');
      return this.close(CLOSE.VERSION_UNSUPPORTED, 'version unsupported');
    }
    let token = frame.token;
    let claims = token ? this.#s.tokens.verify(token) : null;
    if (token && !claims) {
      this.#refuse('AUTH_INVALID', 'the token is not valid here', 'hello');
      return this.close(CLOSE.AUTH_FAILED, 'invalid token');
    }
    if (!claims || !token) {
      token = this.#s.tokens.newPlayer();
      claims = this.#s.tokens.verify(token) as TokenClaims;
    }
    this.#claims = claims;
    this.send({
      type: 'welcome',
      v: PROTOCOL_VERSION,
      playerId: claims.sub,
      token,
      sessionId: claims.sid,
      scopes: claims.scope,
      heartbeatMs: this.#s.limits.heartbeatTimeoutMs,
      defaultStoryId: this.#s.defaultStoryId,
      rate: this.#s.limits.rate,
    });
  }

  #start(storyId: string | null): void {
    if (this.#hub || this.#attaching) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'this connection already plays a session; open another connection', 'session.start');
    if (!storyId) return this.#refuse('STORY_NOT_FOUND', 'no storyId given and no default story', 'session.start');
    const claims = this.#claims as TokenClaims;
    this.#attaching = true;
    this.#s
      .startSession(storyId)
      .then(async (hub) => {
        const token = this.#s.tokens.sign({ sub: claims.sub, sid: hub.id, scope: claims.scope });
        this.#claims = this.#s.tokens.verify(token);
        await this.#attach(hub, token, false);
      })
      .catch((error: unknown) => this.#failed(error, 'session.start'))
      .finally(() => {
        this.#attaching = false;
      });
  }

  #resume(sessionId: string): void {
    if (this.#hub || this.#attaching) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'this connection already plays a session; open another connection', 'session.resume');
    const claims = this.#claims as TokenClaims;
    // A token bound to one session never reads or writes another.
    if (claims.sid !== sessionId) return this.#refuse('AUTH_FORBIDDEN', 'this token does not grant that session', 'session.resume');
    this.#attaching = true;
    const token = this.#s.tokens.sign({ sub: claims.sub, sid: sessionId, scope: claims.scope });
    Promise.resolve()
      .then(() => this.#attach(this.#s.hub(sessionId), token, true))
      .catch((error: unknown) => this.#failed(error, 'session.resume'))
      .finally(() => {
        this.#attaching = false;
      });
  }

  async #attach(hub: SessionHub, token: string, resumed: boolean): Promise<void> {
    if (!this.#open) return;
    // Frames the session emits from now on reach this connection, after session.ready.
    this.#held = [];
    try {
      await hub.attach(this);
    } catch (error) {
      this.#held = null;
      throw error;
    }
    const held = this.#held;
    this.#held = null;
    if (!this.#open) {
      hub.detach(this);
      return;
    }
    this.#hub = hub;
    this.send(hub.readyFrame(token, resumed));
    const scene = hub.currentScene();
    if (scene) this.send(scene);
    for (const h of held) {
      if (scene && h.frame.type === 'scene.entered' && h.frame.sceneIndex === scene.sceneIndex) continue;
      this.send(h.frame, h.droppable);
    }
  }

  #failed(error: unknown, ref: string): void {
    if (isStorytellerError(error)) return this.#refuse(error.code, error.message, ref);
    this.#s.logger.error({ err: error }, `gateway: ${ref} failed`);
    this.#refuse('STORAGE_UNAVAILABLE', error instanceof Error ? error.message : String(error), ref);
  }

  #debug(): void {
    const claims = this.#claims as TokenClaims;
    if (!claims.scope.includes('debug')) return this.#refuse('AUTH_FORBIDDEN', 'the debug subscription needs a token with the debug scope', 'debug.subscribe');
    if (!this.#hub) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'start or resume a session first', 'debug.subscribe');
    if (!this.#s.debug) return this.#refuse('PROTOCOL_OUT_OF_ORDER', 'the debug subscription is disabled on this server', 'debug.subscribe');
    if (this.#debugOff) return;
    this.#debugOff = this.#s.debug.subscribe(this.#hub.id, (r) => {
      try {
        this.send({ type: 'debug', sessionId: r.sessionId, kind: r.kind, data: JSON.parse(JSON.stringify(r.data)) as unknown }, true);
      } catch (error) {
        this.#s.logger.warn({ err: error }, 'gateway: a debug record could not be sent');
      }
    });
  }
}
