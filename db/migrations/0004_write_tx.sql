-- The transaction that wrote each checkpoint and outbox row (issue 9, guarantee 3).
-- A scene exit writes SceneExited, its checkpoint and its outbox row in ONE transaction; the
-- ledger row is never updated, so its xmin names that transaction, but checkpoints and outbox
-- rows are updated later (deferred status, published_at), which changes their xmin. This column
-- keeps the writing transaction's id so an audit can prove the three were written together:
-- (write_tx % 2^32) = event_ledger.xmin of the SceneExited row.
ALTER TABLE checkpoints ADD COLUMN write_tx BIGINT NOT NULL DEFAULT txid_current();
ALTER TABLE outbox ADD COLUMN write_tx BIGINT NOT NULL DEFAULT txid_current();
