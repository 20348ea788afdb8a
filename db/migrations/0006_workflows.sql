-- Deferred scene-boundary workflows (issue 14).
--
-- 1. The bridge's record of each outbox row's workflow: the Tasker task it became and when
--    its completion was applied (the outbox row is the one durable handle on a scene exit's
--    workflow; published_at is set only after the submission was confirmed).
ALTER TABLE outbox ADD COLUMN task_uuid UUID;
ALTER TABLE outbox ADD COLUMN correlation_id UUID;
ALTER TABLE outbox ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN completed_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN outcome TEXT CHECK (outcome IN ('complete', 'failed'));
CREATE INDEX idx_outbox_awaiting ON outbox(published_at) WHERE published_at IS NOT NULL AND completed_at IS NULL;

-- 2. The local runner's task and step state (the stand-in for Tasker Core's own tables:
--    a restart resumes after the last completed step). Production keeps these in Tasker.
CREATE TABLE workflow_tasks (
    task_uuid      UUID PRIMARY KEY,
    identity_hash  TEXT NOT NULL UNIQUE,
    namespace      TEXT NOT NULL,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    status         TEXT NOT NULL,
    request        JSONB NOT NULL,
    context        JSONB NOT NULL,
    correlation_id UUID NOT NULL,
    priority       INT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    completed_at   TIMESTAMPTZ
);
CREATE INDEX idx_workflow_tasks_open ON workflow_tasks(created_at) WHERE status NOT IN ('complete', 'error', 'cancelled', 'resolved_manually');

CREATE TABLE workflow_steps (
    step_uuid         UUID PRIMARY KEY,
    task_uuid         UUID NOT NULL REFERENCES workflow_tasks(task_uuid) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          INT NOT NULL DEFAULT 0,
    max_attempts      INT NOT NULL,
    retryable         BOOLEAN NOT NULL,
    results           JSONB,
    last_error        JSONB,
    backoff_request_seconds REAL,
    last_attempted_at TIMESTAMPTZ,
    next_retry_at     TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (task_uuid, name)
);

-- 3. Domain effects the step handlers applied, one row per effect key (derived from the
--    scene exit's workflow key): a retried or redelivered step finds its row and changes
--    nothing twice. The row is written in the same transaction as the effect.
CREATE TABLE workflow_effects (
    effect_key  TEXT PRIMARY KEY,
    session_id  UUID NOT NULL,
    step_name   TEXT NOT NULL,
    result      JSONB NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- 4. Durable schedules (seed: "Between Sessions"). A run fires when next_run_at has passed;
--    the instance that locks the row (FOR UPDATE SKIP LOCKED) writes the run's outbox row
--    (unique key between:<name>:<due time>) and moves next_run_at on, in one transaction —
--    with several engine instances exactly one fires each run.
CREATE TABLE workflow_schedules (
    name         TEXT PRIMARY KEY,
    interval_ms  BIGINT NOT NULL CHECK (interval_ms > 0),
    next_run_at  TIMESTAMPTZ NOT NULL,
    last_run_key TEXT
);
