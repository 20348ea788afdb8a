-- Ownership lease (issue 15): the owning engine instance renews lease_expires_at while it
-- holds the session live; after it expires (the owner died) another instance may claim the
-- session and recover it with no operator action. The epoch (owner_epoch) still fences writes.
ALTER TABLE sessions ADD COLUMN lease_expires_at TIMESTAMPTZ;
CREATE INDEX idx_sessions_lease ON sessions(lease_expires_at) WHERE status IN ('active', 'disconnected');
