-- Core schema: stories and scenes, sessions, the event ledger, checkpoints,
-- entity snapshots and the workflow outbox (seed: "Durability Model").

CREATE TABLE stories (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    version     INT NOT NULL DEFAULT 1,
    definition  JSONB NOT NULL,
    checksum    TEXT NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Scene ids are UUIDs (as the ledger's scene_id); `key` is the author's name for it.
CREATE TABLE scenes (
    id            UUID PRIMARY KEY,
    story_id      TEXT NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    name          TEXT NOT NULL,
    scene_type    TEXT NOT NULL CHECK (scene_type IN ('gravitational', 'gate', 'connective', 'threshold')),
    setting_key   TEXT NOT NULL,
    authored_mass REAL NOT NULL DEFAULT 0,
    definition    JSONB NOT NULL,
    UNIQUE (story_id, key)
);

-- The authored baseline of every entity (characters, objects); sessions copy it.
CREATE TABLE story_entities (
    story_id    TEXT NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    entity_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('character', 'object', 'place')),
    name        TEXT NOT NULL,
    components  JSONB NOT NULL,
    PRIMARY KEY (story_id, entity_id)
);

CREATE TABLE sessions (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    story_id          TEXT REFERENCES stories(id),
    status            TEXT NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'disconnected', 'suspended', 'ended')),
    current_scene_id  UUID,
    current_turn      INT NOT NULL DEFAULT 0,
    -- Highest narrative_ts handed out for this session (allocation counter).
    last_narrative_ts BIGINT NOT NULL DEFAULT 0,
    -- Ownership across engine instances: the epoch is checked on every ledger append.
    owner_instance    TEXT,
    owner_epoch       BIGINT NOT NULL DEFAULT 0,
    disconnected_at   TIMESTAMPTZ,
    grace_deadline    TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_sessions_status ON sessions(status);

CREATE TABLE event_ledger (
    id              BIGSERIAL PRIMARY KEY,
    session_id      UUID NOT NULL REFERENCES sessions(id),
    scene_id        UUID,                   -- NULL for cross-scene events
    turn            INT,                    -- NULL for non-turn events
    event_type      TEXT NOT NULL,          -- discriminator
    event_data      JSONB NOT NULL,         -- serialized event payload
    confidence      REAL,                   -- NULL for factual events
    source          TEXT NOT NULL,          -- which agent/system produced this
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    narrative_ts    BIGINT NOT NULL,        -- monotonic narrative timestamp per session
    -- Added: a client's retransmission of the same input is a no-op.
    client_input_id TEXT,
    -- Added: the PlayerInput (ledger id) this event serves; effects re-run after a crash dedupe on it.
    input_id        BIGINT,
    idempotency_key TEXT
);
CREATE INDEX idx_ledger_session_turn ON event_ledger(session_id, turn);
CREATE INDEX idx_ledger_scene ON event_ledger(scene_id);
CREATE INDEX idx_ledger_type ON event_ledger(event_type);
CREATE INDEX idx_ledger_narrative_ts ON event_ledger(narrative_ts);
CREATE UNIQUE INDEX idx_ledger_session_ts ON event_ledger(session_id, narrative_ts);
CREATE UNIQUE INDEX idx_ledger_client_input ON event_ledger(session_id, client_input_id)
    WHERE client_input_id IS NOT NULL;
CREATE UNIQUE INDEX idx_ledger_idempotency ON event_ledger(session_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Added: TurnCompleted / effects of one PlayerInput (crash replay finds unanswered inputs).
CREATE INDEX idx_ledger_session_input ON event_ledger(session_id, input_id) WHERE input_id IS NOT NULL;

CREATE TABLE checkpoints (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id         UUID NOT NULL REFERENCES sessions(id),
    scene_id           UUID NOT NULL,
    turn               INT NOT NULL,
    checkpoint_type    TEXT NOT NULL CHECK (checkpoint_type IN ('scene_exit', 'manual_save', 'autosave', 'suspend')),

    -- Serialized state
    entity_state       JSONB NOT NULL,      -- all entity components
    truth_set          JSONB NOT NULL,      -- current propositions
    narrative_position JSONB NOT NULL,      -- graph position, available posteriors
    world_state        JSONB NOT NULL,      -- world agent state

    -- Added: the ledger position this checkpoint covers; replay starts after it.
    ledger_ts          BIGINT NOT NULL,
    -- Added: runtime state the session needs on restore (grace deadline, pending work).
    session_state      JSONB NOT NULL DEFAULT '{}'::jsonb,

    -- Metadata
    deferred_status    TEXT NOT NULL DEFAULT 'pending'
                       CHECK (deferred_status IN ('pending', 'processing', 'complete', 'failed')),
    deferred_result    JSONB,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_checkpoints_session ON checkpoints(session_id, ledger_ts DESC, created_at DESC);

-- Latest component state of each entity in a session (written at scene exit).
CREATE TABLE entity_snapshots (
    session_id  UUID NOT NULL REFERENCES sessions(id),
    entity_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    components  JSONB NOT NULL,
    scene_id    UUID,
    turn        INT,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (session_id, entity_id)
);

-- Transactional outbox: rows written in the scene-exit transaction, relayed to
-- Tasker Core by the bridge with publisher confirms.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    session_id      UUID REFERENCES sessions(id),
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    published_at    TIMESTAMPTZ,
    attempts        INT NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX idx_outbox_unpublished ON outbox(id) WHERE published_at IS NULL;
