-- recompute_outbox: the faulty-positions endpoint (extensions/) writes one row per flag request in the
-- transaction that updates positions.faulty; the relay delivers pending rows to the Redis stream named by
-- RECOMPUTE_STREAM and marks them delivered. A raw table: never a Directus collection. Delivered rows stay
-- as the record of who flagged what, when and why.
CREATE TABLE IF NOT EXISTS recompute_outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id      uuid        NOT NULL UNIQUE,     -- the message's request_id: consumers deduplicate on it
  payload         jsonb       NOT NULL,            -- the stream entry's fields (all strings), as delivered
  created_at      timestamptz NOT NULL DEFAULT now(),
  attempts        integer     NOT NULL DEFAULT 0,  -- delivery attempts (failed ones leave last_error)
  last_error      text,
  delivered_at    timestamptz,                     -- NULL: pending
  stream_entry_id text                             -- the Redis stream entry id once delivered
);

-- The relay's claim: the oldest pending rows, FOR UPDATE SKIP LOCKED.
CREATE INDEX IF NOT EXISTS recompute_outbox_pending ON recompute_outbox (id) WHERE delivered_at IS NULL;
