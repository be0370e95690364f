-- The one required-columns check, `trm_require_columns(migration, want)` (created by 010 for 010-013 and
-- called by every later file), now looks in current_schema(), the schema a migration's own unqualified
-- statements write to, as trm-init's Rust checks do (src/preflight/directus/fingerprint.rs,
-- src/preflight/access/validate.rs), instead of `public` by name, and names every missing column at once:
--   SELECT trm_require_columns('026_name', ARRAY['stages.event_id', 'stage_results.status']);
-- Same signature, so callers do not change; 010 is applied and never edited, so the body is replaced here.
-- Files 018-024 ran 010's body (same answer on a database in `public`). 004, 005, 007, 016 and 017 carry
-- their own loop from before the helper existed.

CREATE OR REPLACE FUNCTION trm_require_columns(migration text, want text[]) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  malformed text;
  missing text;
BEGIN
  SELECT string_agg(quote_literal(w), ', ') INTO malformed
    FROM unnest(want) AS w
   WHERE w IS NULL OR w !~ '^[^.]+\.[^.]+$';
  IF malformed IS NOT NULL THEN
    RAISE EXCEPTION '%: trm_require_columns takes table.column names, got %', migration, malformed;
  END IF;
  SELECT string_agg(w, ', ' ORDER BY n) INTO missing
    FROM unnest(want) WITH ORDINALITY AS u(w, n)
   WHERE NOT EXISTS (SELECT FROM information_schema.columns c
                      WHERE c.table_schema = current_schema()
                        AND c.table_name = split_part(w, '.', 1)
                        AND c.column_name = split_part(w, '.', 2));
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION '%: column % does not exist in schema %', migration, missing, current_schema()
      USING HINT = 'db-init-post runs after the Directus schema apply: is the field in snapshots/schema.yaml?';
  END IF;
END
$fn$;
