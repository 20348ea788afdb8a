import { z } from 'zod';
import { StorytellerError } from './errors.ts';
import { moduleLevelsSchema, type LogLevel, type LogModule } from './logger.ts';

/**
 * Every environment variable the engine reads, validated in one place. The README's
 * configuration table mirrors this schema. Layers with many options of their own
 * (LLM roles, for example) keep their schema beside their code and are merged here.
 */
const booleanFromEnv = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

export const envSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  AMQP_URL: z.string().regex(/^amqps?:\/\//, 'must be an amqp:// URL').optional(),
  STORYTELLER_DATA_DIR: z.string().min(1).default('./data'),
  STORYTELLER_GRACE_PERIOD_MS: positiveInt.default(5 * 60_000),
  STORYTELLER_HOST: z.string().min(1).default('127.0.0.1'),
  STORYTELLER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  STORYTELLER_INSTANCE_ID: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Per-module log levels beside LOG_LEVEL, e.g. `persistence=debug,gateway=warn` (modules: src/logger.ts LOG_MODULES). */
  STORYTELLER_LOG_LEVELS: moduleLevelsSchema.optional(),
  STORYTELLER_GRAPH_STORE: z.enum(['sql', 'age']).default('sql'),
  STORYTELLER_LEDGER_MAX_PAYLOAD_BYTES: positiveInt.default(64 * 1024),
  STORYTELLER_LEDGER_MAX_BATCH: positiveInt.default(512),
  STORYTELLER_EVENT_FLUSH_MS: positiveInt.default(20),
  STORYTELLER_INSPECT: booleanFromEnv.default(false),
  STORYTELLER_INSPECT_PORT: z.coerce.number().int().min(1).max(65535).default(8383),
  /** The inspector relays player text: loopback only unless set (unsafe beyond it). */
  STORYTELLER_INSPECT_HOST: z.string().min(1).default('127.0.0.1'),
  /** Token signing secret (≥ 32 characters; checked in src/gateway/secret.ts). Required with NODE_ENV=production. */
  STORYTELLER_GATEWAY_SECRET: z.string().optional(),
  /** Secrets being rotated out, comma-separated: tokens they signed still verify (src/gateway/secret.ts). */
  STORYTELLER_GATEWAY_SECRET_PREVIOUS: z.string().optional(),
  STORYTELLER_HEARTBEAT_TIMEOUT_MS: positiveInt.default(30_000),
  STORYTELLER_GATEWAY_MAX_FRAME_BYTES: positiveInt.default(16 * 1024),
  STORYTELLER_GATEWAY_RATE_PER_S: positiveInt.default(20),
  STORYTELLER_GATEWAY_RATE_BURST: positiveInt.default(40),
  STORYTELLER_GATEWAY_MAX_CONNECTIONS_PER_IP: positiveInt.default(64),
  STORYTELLER_GATEWAY_ACK_TIMEOUT_MS: positiveInt.default(10_000),
  /** Ownership lease TTL: a dead instance's live sessions are taken over this long after its last renewal. */
  STORYTELLER_LEASE_TTL_MS: positiveInt.default(15_000),
  /** The debug subscription (still only for tokens with the debug scope). */
  STORYTELLER_GATEWAY_DEBUG: booleanFromEnv.default(true),
  /** Inspect only this session (default: every session). */
  STORYTELLER_INSPECT_SESSION: z.string().uuid().optional(),
  /** Crash trials: the engine process exits (code 137) at this named fault point (src/engine/fault-points.ts). */
  STORYTELLER_FAULT: z.string().min(1).optional(),
  STORYTELLER_STORY: z.string().min(1).default('db/stories/the-lighthouse-keeper.yaml'),
  STORYTELLER_FRAME_MODEL: z.string().min(1).default('models/frame/current'),
  /** Declares the schema of a bare .onnx frame model without a manifest (e.g. storyteller-character/1). */
  STORYTELLER_FRAME_SCHEMA: z.string().min(1).optional(),
  /** Where the deferred scene-boundary workflows run (docs/workflows.md): default `rest` when STORYTELLER_TASKER_URL is set, else `in-process`. */
  STORYTELLER_WORKFLOW_TRANSPORT: z.enum(['rest', 'queue', 'in-process']).optional(),
  /** Tasker Core's REST base URL (or `storyteller tasker-local`'s), e.g. http://127.0.0.1:8080. */
  STORYTELLER_TASKER_URL: z.string().regex(/^https?:\/\//, 'must be an http(s):// URL').optional(),
  /** Port of `storyteller tasker-local`'s REST endpoint. */
  STORYTELLER_TASKER_LOCAL_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  /** How often the between-sessions workflow runs over suspended sessions (ms). */
  STORYTELLER_BETWEEN_SESSIONS_MS: positiveInt.default(3_600_000),
  /** A published workflow that has not reported for this long is reconciled through GET /v1/tasks/{uuid} (ms). */
  STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS: positiveInt.default(60_000),
  /** Sent as `Authorization: Bearer <token>` on every Tasker REST call; `tasker-local` requires it when set. */
  STORYTELLER_TASKER_TOKEN: z.string().min(1).optional(),
  /** `tasker-local`: a step a dead runner left `in_progress` this long ago is retried at start (ms). */
  STORYTELLER_TASKER_LOCAL_STALE_AFTER_MS: z.coerce.number().int().nonnegative().default(60_000),
  /** Tests only (`<step>:before|after`): `tasker-local` claims that step and holds it, before or after its handler, until killed. */
  STORYTELLER_TASKER_LOCAL_HOLD: z.string().regex(/^[a-z][a-z0-9_]*:(before|after)$/, 'must be <step>:before or <step>:after').optional(),
  /** Sent as `X-API-Key` on every Tasker REST call (Tasker's API-key auth). */
  STORYTELLER_TASKER_API_KEY: z.string().min(1).optional(),
  /** A full checkpoint every N per session; the ones between are deltas, each against the previous checkpoint (docs/checkpoints.md). 1 = always full. */
  STORYTELLER_CHECKPOINT_FULL_EVERY: positiveInt.max(1000).default(20),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  databaseUrl: string | undefined;
  amqpUrl: string | undefined;
  dataDir: string;
  gracePeriodMs: number;
  host: string;
  port: number;
  instanceId: string | undefined;
  logLevel: Env['LOG_LEVEL'];
  /** STORYTELLER_LOG_LEVELS: levels of single modules (the others follow logLevel). */
  logLevels: Partial<Record<LogModule, LogLevel>>;
  graphStore: Env['STORYTELLER_GRAPH_STORE'];
  ledger: { maxPayloadBytes: number; maxBatch: number; eventFlushMs: number };
  inspect: { enabled: boolean; port: number; host: string };
  gateway: {
    heartbeatTimeoutMs: number;
    maxFrameBytes: number;
    rate: { perSecond: number; burst: number };
    maxConnectionsPerIp: number;
    ackTimeoutMs: number;
    debug: boolean;
    leaseTtlMs: number;
  };
  storyPath: string;
  frameModelPath: string;
  /** STORYTELLER_FRAME_SCHEMA: declared schema of a bare .onnx frame model (null: none). */
  frameSchema: string | null;
  workflows: {
    transport: 'rest' | 'queue' | 'in-process';
    taskerUrl: string | undefined;
    localPort: number;
    betweenSessionsMs: number;
    /** Defaults to 60 s where absent (tests build this object by hand). */
    reconcileAfterMs?: number;
    /** Tasker REST auth: a bearer token (JWT) and/or an API key. */
    taskerToken?: string | undefined;
    taskerApiKey?: string | undefined;
    /** `tasker-local` only. */
    localStaleAfterMs?: number;
    localHold?: { step: string; phase: 'before' | 'after' } | null;
  };
  /** Incremental checkpoints (docs/checkpoints.md). */
  checkpoints: { fullEvery: number };
  /** The raw, validated environment, for layers that parse their own section. */
  env: NodeJS.ProcessEnv;
}

function holdOf(spec: string): { step: string; phase: 'before' | 'after' } {
  const [step, phase] = spec.split(':') as [string, 'before' | 'after'];
  return { step, phase };
}

/** Parses the environment; an invalid value stops start-up with the variable's name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new StorytellerError('CONFIG_INVALID', `invalid configuration — ${problems.join('; ')}`, {
      details: { variables: parsed.error.issues.map((issue) => issue.path.join('.')) },
    });
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    amqpUrl: e.AMQP_URL,
    dataDir: e.STORYTELLER_DATA_DIR,
    gracePeriodMs: e.STORYTELLER_GRACE_PERIOD_MS,
    host: e.STORYTELLER_HOST,
    port: e.STORYTELLER_PORT,
    instanceId: e.STORYTELLER_INSTANCE_ID,
    logLevel: e.LOG_LEVEL,
    logLevels: e.STORYTELLER_LOG_LEVELS ?? {},
    graphStore: e.STORYTELLER_GRAPH_STORE,
    ledger: {
      maxPayloadBytes: e.STORYTELLER_LEDGER_MAX_PAYLOAD_BYTES,
      maxBatch: e.STORYTELLER_LEDGER_MAX_BATCH,
      eventFlushMs: e.STORYTELLER_EVENT_FLUSH_MS,
    },
    inspect: { enabled: e.STORYTELLER_INSPECT, port: e.STORYTELLER_INSPECT_PORT, host: e.STORYTELLER_INSPECT_HOST },
    gateway: {
      heartbeatTimeoutMs: e.STORYTELLER_HEARTBEAT_TIMEOUT_MS,
      maxFrameBytes: e.STORYTELLER_GATEWAY_MAX_FRAME_BYTES,
      rate: { perSecond: e.STORYTELLER_GATEWAY_RATE_PER_S, burst: e.STORYTELLER_GATEWAY_RATE_BURST },
      maxConnectionsPerIp: e.STORYTELLER_GATEWAY_MAX_CONNECTIONS_PER_IP,
      ackTimeoutMs: e.STORYTELLER_GATEWAY_ACK_TIMEOUT_MS,
      debug: e.STORYTELLER_GATEWAY_DEBUG,
      leaseTtlMs: e.STORYTELLER_LEASE_TTL_MS,
    },
    storyPath: e.STORYTELLER_STORY,
    frameModelPath: e.STORYTELLER_FRAME_MODEL,
    frameSchema: e.STORYTELLER_FRAME_SCHEMA ?? null,
    workflows: {
      transport: e.STORYTELLER_WORKFLOW_TRANSPORT ?? (e.STORYTELLER_TASKER_URL ? 'rest' : 'in-process'),
      taskerUrl: e.STORYTELLER_TASKER_URL,
      localPort: e.STORYTELLER_TASKER_LOCAL_PORT,
      betweenSessionsMs: e.STORYTELLER_BETWEEN_SESSIONS_MS,
      reconcileAfterMs: e.STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS,
      taskerToken: e.STORYTELLER_TASKER_TOKEN,
      taskerApiKey: e.STORYTELLER_TASKER_API_KEY,
      localStaleAfterMs: e.STORYTELLER_TASKER_LOCAL_STALE_AFTER_MS,
      localHold: e.STORYTELLER_TASKER_LOCAL_HOLD ? holdOf(e.STORYTELLER_TASKER_LOCAL_HOLD) : null,
    },
    checkpoints: { fullEvery: e.STORYTELLER_CHECKPOINT_FULL_EVERY },
    env,
  };
}
