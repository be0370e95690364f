-- bench/ledger.sh COMPARE file (measurement only): compare-batch.sql with the statement's array stored
-- uncompressed (`after` STORAGE EXTERNAL: out of line in TOAST, no pglz), to see how much of the
-- one-row-per-statement design's cost is the compression of its one large value. Same rows recorded.
\ir compare-batch.sql
ALTER TABLE timing_ledger ALTER COLUMN after SET STORAGE EXTERNAL;
