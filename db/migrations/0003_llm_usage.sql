-- LLM cost totals per session, role and provider (issue 5, seed open consideration 7).
-- One row per (session, role, provider), incremented by an upsert after every call; no foreign
-- key to sessions: calls made outside a session are kept under session_id '-', and the totals
-- are accounting data that may outlive a session row.
CREATE TABLE llm_usage (
    session_id     TEXT NOT NULL,
    role           TEXT NOT NULL,
    provider       TEXT NOT NULL,
    input_tokens   BIGINT NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens  BIGINT NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_usd       NUMERIC(14, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    calls          BIGINT NOT NULL DEFAULT 0 CHECK (calls >= 0),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (session_id, role, provider)
);

CREATE INDEX llm_usage_provider_idx ON llm_usage (provider);
