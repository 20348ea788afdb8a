import { z } from 'zod';

/**
 * The player protocol (docs/protocol.md), every frame in both directions. One JSON text
 * frame per message, `type` first. The server parses what it receives with
 * `clientFrame` and builds what it sends through `serverFrame` (validated too, so a
 * server bug cannot put an ill-formed frame on the wire). The web client mirrors these
 * shapes by hand (it is framework-free); test/unit/gateway/protocol-doc.test.ts checks
 * that docs/protocol.md lists every frame and close code.
 *
 * Seed open consideration 8 ("Client-server protocol"): WebSocket, versioned here.
 */
export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

/** Close codes the server uses (documented in docs/protocol.md). */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** Over the hard frame limit: uWebSockets closes the socket itself. */
  MESSAGE_TOO_BIG: 1009,
  TOO_MANY_INVALID_FRAMES: 4400,
  AUTH_FAILED: 4401,
  VERSION_UNSUPPORTED: 4406,
  HEARTBEAT_TIMEOUT: 4408,
  /** Another engine instance took the session (its epoch fenced this one): reconnect. */
  SESSION_MOVED: 4409,
  RATE_LIMITED: 4429,
  /**
   * Graceful shutdown (SIGTERM, a rolling restart): this instance checkpointed the session
   * and flushed the ledger before closing; reconnect at once, to another instance (the
   * token resumes the session there) — nothing acknowledged is lost, unanswered lines are resent.
   */
  SHUTDOWN_MOVED: 4503,
  SLOW_READER: 4508,
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

const clientInputId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');
const sessionId = z.guid();
const storyId = z.string().min(1).max(200);

// ------------------------------------------------------------------ client → server

export const helloFrame = z.strictObject({
  type: z.literal('hello'),
  v: z.number().int(),
  /** A token from an earlier `welcome` or `session.ready`; absent: a new player. */
  token: z.string().min(1).max(2048).optional(),
  client: z.string().max(100).optional(),
});

export const clientFrame = z.discriminatedUnion('type', [
  helloFrame,
  z.strictObject({ type: z.literal('session.start'), storyId: storyId.optional() }),
  z.strictObject({ type: z.literal('session.resume'), sessionId }),
  /** Text longer than the ledger accepts (4,000 characters) is refused with LEDGER_PAYLOAD_INVALID. */
  z.strictObject({ type: z.literal('input'), clientInputId, text: z.string().max(16_000) }),
  z.strictObject({ type: z.literal('save') }),
  z.strictObject({ type: z.literal('hint') }),
  z.strictObject({ type: z.literal('ping'), t: z.number().optional() }),
  z.strictObject({ type: z.literal('debug.subscribe') }),
]);

export type ClientFrame = z.infer<typeof clientFrame>;
export type ClientFrameType = ClientFrame['type'];

// ------------------------------------------------------------------ server → client

const timings = z.record(z.string(), z.number());
const lifecycle = z.string().min(1).max(40);

export const serverFrame = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    v: z.literal(PROTOCOL_VERSION),
    playerId: z.string(),
    /** Keep it: it proves who you are on the next hello. Bound to `sessionId` when that is set. */
    token: z.string(),
    sessionId: sessionId.nullable(),
    scopes: z.array(z.enum(['play', 'debug'])),
    /** Send any frame (a `ping` will do) at least this often, or the connection is closed (4408). */
    heartbeatMs: z.number().int().positive(),
    defaultStoryId: storyId.nullable(),
    /** This connection's frame rate limit: a client paces itself below it (a refused input is retried, never dropped). */
    rate: z.strictObject({ perSecond: z.number().positive(), burst: z.number().int().positive() }).optional(),
  }),
  z.strictObject({
    type: z.literal('session.ready'),
    sessionId,
    /** A token bound to this session: send it in the next hello to resume it. */
    token: z.string(),
    storyId: storyId.nullable(),
    resumed: z.boolean(),
    lifecycle,
    connection: z.string(),
    scene: z.string().nullable(),
    turn: z.number().int().nonnegative(),
  }),
  z.strictObject({ type: z.literal('ack'), clientInputId, inputId: z.number().int().positive(), turn: z.number().int().nullable(), duplicate: z.boolean() }),
  z.strictObject({ type: z.literal('turn.started'), inputId: z.number().int().positive(), turn: z.number().int() }),
  z.strictObject({ type: z.literal('narrative.chunk'), inputId: z.number().int().nonnegative(), text: z.string() }),
  z.strictObject({
    type: z.literal('narrative.done'),
    inputId: z.number().int().positive(),
    clientInputId,
    turn: z.number().int().nullable(),
    /** The whole narration; null when it was answered before this server started (a replayed duplicate). */
    text: z.string().nullable(),
    degraded: z.array(z.string()),
    /** Answer to a resent input that was already played. */
    replayed: z.boolean(),
    /** The scene ends with this turn (after the last scene, the story): scene.exited, then scene.entered or session.state ended follow. */
    sceneEnds: z.boolean().optional(),
  }),
  z.strictObject({ type: z.literal('gate.fired'), gateId: z.string() }),
  z.strictObject({ type: z.literal('goal.fired'), goalId: z.string(), description: z.string() }),
  z.strictObject({
    type: z.literal('scene.entered'),
    scene: z.string(),
    sceneIndex: z.number().int().nonnegative(),
    name: z.string().nullable(),
    description: z.string().nullable(),
    timings,
    degraded: z.array(z.string()),
  }),
  z.strictObject({ type: z.literal('scene.exited'), scene: z.string(), nextScene: z.string().nullable(), reason: z.string() }),
  /** A deferred scene-boundary result arrived mid-play: one line on what rippled (src/workflows/deferred-summary.ts). */
  z.strictObject({ type: z.literal('deferred.applied'), text: z.string() }),
  z.strictObject({ type: z.literal('session.state'), sessionId, lifecycle, connection: z.string() }),
  z.strictObject({ type: z.literal('saved'), checkpointId: z.string() }),
  z.strictObject({ type: z.literal('hint'), text: z.string().nullable() }),
  z.strictObject({ type: z.literal('pong'), t: z.number().optional() }),
  z.strictObject({ type: z.literal('debug'), sessionId, kind: z.string(), data: z.unknown() }),
  z.strictObject({
    type: z.literal('error'),
    code: z.string(),
    message: z.string(),
    /** The input this error refuses, when it refuses one. */
    clientInputId: clientInputId.optional(),
    /** The type of the frame refused, when it could be read. */
    ref: z.string().max(40).optional(),
  }),
]);

export type ServerFrame = z.infer<typeof serverFrame>;
export type ServerFrameType = ServerFrame['type'];
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;

/** Serialises a server frame after validating it (a malformed outgoing frame is a server bug: it throws). */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(serverFrame.parse(frame));
}

export type DecodedClientFrame =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: 'PROTOCOL_FRAME_INVALID'; message: string; ref?: string };

/** Parses one text frame from a client; never throws. */
export function decodeClientFrame(text: string): DecodedClientFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'PROTOCOL_FRAME_INVALID', message: 'not JSON' };
  }
  const parsed = clientFrame.safeParse(raw);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const type = typeof raw === 'object' && raw !== null && typeof (raw as { type?: unknown }).type === 'string' ? ((raw as { type: string }).type.slice(0, 40)) : undefined;
  const issue = parsed.error.issues[0];
  const message = issue ? `${issue.path.join('.') || 'frame'}: ${issue.message}` : 'invalid frame';
  return { ok: false, code: 'PROTOCOL_FRAME_INVALID', message: message.slice(0, 300), ...(type ? { ref: type } : {}) };
}

/** The clientInputId of a frame that reads as an input (for refusing one before it is handled); never throws. */
export function peekInputId(text: string): string | null {
  const decoded = decodeClientFrame(text);
  return decoded.ok && decoded.frame.type === 'input' ? decoded.frame.clientInputId : null;
}

/**
 * Codes with which an input is refused for now, not for good: the client keeps the line
 * and sends it again, in order, after a pause (or after a reconnect).
 */
export const RETRYABLE_INPUT_CODES: ReadonlySet<string> = new Set(['STORAGE_UNAVAILABLE', 'ENGINE_SHUTTING_DOWN', 'RATE_LIMITED', 'LEDGER_WRITE_FAILED']);

/** Decodes a server frame (clients and tests). */
export function decodeServerFrame(text: string): ServerFrame {
  return serverFrame.parse(JSON.parse(text));
}
