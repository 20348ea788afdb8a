-- Incremental checkpoints and TOAST compression (issue 13, open consideration 3; docs/checkpoints.md).
-- A checkpoint row is now either 'full' (the four state columns, as before) or 'delta': a patch
-- of those four against its parent base_id — the session's previous checkpoint, full or delta —
-- with the sha256 of the patch's canonical text (delta_hash) and its distance from the full
-- checkpoint its chain starts at (chain_depth; the writer starts a new full one every N).
-- A delta row leaves the state columns SQL NULL, so no reader mistakes a patch for a state.
-- base_id has no foreign key on purpose: a deleted ancestor is a broken chain that restore
-- detects and falls back from (last intact full checkpoint + ledger replay), not a refused DELETE.
ALTER TABLE checkpoints
    ADD COLUMN encoding    TEXT NOT NULL DEFAULT 'full' CHECK (encoding IN ('full', 'delta')),
    ADD COLUMN base_id     UUID,
    ADD COLUMN delta       JSONB,
    ADD COLUMN delta_hash  TEXT,
    ADD COLUMN chain_depth INT NOT NULL DEFAULT 0 CHECK (chain_depth >= 0);
ALTER TABLE checkpoints
    ALTER COLUMN entity_state DROP NOT NULL,
    ALTER COLUMN truth_set DROP NOT NULL,
    ALTER COLUMN narrative_position DROP NOT NULL,
    ALTER COLUMN world_state DROP NOT NULL;
ALTER TABLE checkpoints ADD CONSTRAINT checkpoints_encoding_shape CHECK (
    (encoding = 'full' AND base_id IS NULL AND delta IS NULL AND delta_hash IS NULL AND chain_depth = 0
        AND entity_state IS NOT NULL AND truth_set IS NOT NULL AND narrative_position IS NOT NULL AND world_state IS NOT NULL)
 OR (encoding = 'delta' AND base_id IS NOT NULL AND delta IS NOT NULL AND delta_hash IS NOT NULL AND chain_depth > 0
        AND entity_state IS NULL AND truth_set IS NULL AND narrative_position IS NULL AND world_state IS NULL));
-- The fallback's lookup: the newest full checkpoint of a session.
CREATE INDEX idx_checkpoints_session_full ON checkpoints(session_id, ledger_ts DESC, created_at DESC) WHERE encoding = 'full';

-- lz4 TOAST compression where the server is built with it (PostgreSQL >= 14 with lz4): faster
-- to compress and decompress than the default pglz at a similar ratio. Without it (PGlite, a
-- server built without lz4) the columns keep pglz; nothing else changes. Only new values are affected.
DO $$
BEGIN
    ALTER TABLE checkpoints
        ALTER COLUMN entity_state SET COMPRESSION lz4,
        ALTER COLUMN truth_set SET COMPRESSION lz4,
        ALTER COLUMN narrative_position SET COMPRESSION lz4,
        ALTER COLUMN world_state SET COMPRESSION lz4,
        ALTER COLUMN delta SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server: checkpoints keep pglz TOAST compression';
END
$$;
