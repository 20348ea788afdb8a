/**
 * Every error the runtime raises on purpose carries a stable code. The wire
 * protocol sends the code, logs carry it, tests assert on it. Layers own their
 * codes (see `ERROR_CODES`); nothing throws an ad-hoc string.
 */
export const ERROR_CODES = {
  // configuration and start-up
  CONFIG_INVALID: 'a configuration variable is missing or malformed',
  INTERNAL_ERROR: 'an unexpected failure not (yet) given a code of its own; the log line carries err',
  // storage
  STORAGE_UNAVAILABLE: 'the database cannot be reached',
  STORAGE_QUERY_FAILED: 'a database statement failed (its SQLSTATE is in err.code)',
  MIGRATION_CHECKSUM_MISMATCH: 'an applied migration file was changed afterwards',
  MIGRATION_FAILED: 'a migration failed and was rolled back',
  TEST_SERVICES_MISSING: 'the test harness found neither service URLs nor Docker',
  // ledger and checkpoints
  LEDGER_EVENT_TYPE_UNKNOWN: 'the event type is not one the ledger accepts',
  LEDGER_PAYLOAD_INVALID: 'the event payload fails its schema',
  LEDGER_PAYLOAD_TOO_LARGE: 'the event payload exceeds the size limit',
  LEDGER_WRITE_FAILED: 'the ledger write did not commit',
  LEDGER_FENCED: 'another engine owns this session (stale ownership epoch)',
  CHECKPOINT_INVALID: 'a checkpoint failed validation',
  CHECKPOINT_NOT_FOUND: 'no checkpoint exists for the session',
  LEDGER_ARCHIVE_DATE_INVALID: 'the ledger archive date is not a valid date in the past',
  CHECKPOINT_CHAIN_BROKEN: 'a delta checkpoint cannot be rebuilt (base missing or corrupt); restored from the last full checkpoint + ledger replay',
  STORED_DATA_INVALID: 'JSON read back from the database fails its schema',
  SESSION_RECORD_INVALID: 'a session create or update request fails validation',
  // sessions
  SESSION_NOT_FOUND: 'no such session',
  SESSION_NOT_PLAYING: 'the session cannot take input in its current state',
  SESSION_ALREADY_EXISTS: 'a session with this id is already running',
  ENGINE_SHUTTING_DOWN: 'the engine is shutting down',
  // stories
  STORY_INVALID: 'the story file fails validation',
  STORY_NOT_FOUND: 'no such story',
  SCENE_NOT_FOUND: 'no such scene',
  // inference
  LLM_RATE_LIMITED: 'the LLM provider rate-limited the request',
  LLM_OVERLOADED: 'the LLM provider is overloaded',
  LLM_TIMEOUT: 'the LLM call timed out',
  LLM_INVALID_REQUEST: 'the LLM provider rejected the request',
  LLM_BUDGET_EXCEEDED: 'the token budget is exhausted',
  LLM_UNAVAILABLE: 'no LLM provider could answer',
  LLM_ABORTED: 'the LLM call was cancelled',
  LLM_OUTPUT_INVALID: 'the LLM output fails its schema',
  FRAME_MODEL_CONTRACT: 'the frame model does not match the contract',
  FRAME_MODEL_INVALID: 'the frame model artifact fails verification',
  FRAME_MODEL_SCHEMA_UNKNOWN: 'the frame model does not declare which feature schema it was trained on',
  FRAME_MODEL_SCHEMA_UNSUPPORTED: 'the frame model declares a feature schema this runtime does not implement',
  // graph
  GRAPH_STORE_UNAVAILABLE: 'the requested graph store is not available',
  GRAPH_QUERY_FAILED: 'a graph query failed',
  GRAPH_ARGUMENT_INVALID: 'a graph store argument fails validation',
  GRAPH_VERTEX_NOT_FOUND: 'an edge names a vertex that does not exist in the scope',
  GRAPH_SCOPE_NOT_FOUND: 'the graph scope to copy has no vertices',
  GRAPH_SCOPE_EXISTS: 'the graph scope to copy into already has vertices',
  // gateway / protocol
  PROTOCOL_FRAME_INVALID: 'the frame fails the protocol schema',
  PROTOCOL_FRAME_TOO_LARGE: 'the frame exceeds the size limit',
  PROTOCOL_VERSION_UNSUPPORTED: 'the hello frame names a protocol version this server does not speak',
  PROTOCOL_OUT_OF_ORDER: 'the frame is not allowed in the connection\'s current state',
  AUTH_REQUIRED: 'the first frame must be a hello',
  AUTH_INVALID: 'the session token is missing or invalid',
  AUTH_FORBIDDEN: 'the token does not grant this session or scope',
  RATE_LIMITED: 'too many frames on this connection; slow down',
  // workflows
  WORKFLOW_DISPATCH_FAILED: 'the deferred workflow could not be dispatched',
  WORKFLOW_MESSAGE_INVALID: 'a workflow message fails its schema',
  WORKFLOW_FAILED: 'a deferred workflow failed permanently (the checkpoint is marked failed; play goes on)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class StorytellerError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? ERROR_CODES[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorytellerError';
    this.code = code;
    this.details = options?.details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: { ...this.details } } : { code: this.code, message: this.message };
  }
}

export function isStorytellerError(value: unknown, code?: ErrorCode): value is StorytellerError {
  return value instanceof StorytellerError && (code === undefined || value.code === code);
}
