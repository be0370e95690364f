-- The one check a migration makes before it relies on tables and columns it does not create:
--   PERFORM trm_require_columns('018_name', ARRAY['stages.event_id', 'stage_results.status'], 'hint');
-- raises one error naming the migration, every missing `table.column` and the schema looked in, with
-- the hint (default: where such columns come from). It looks in current_schema(), the schema the
-- migration's own unqualified statements write to, as trm-init's Rust checks do
-- (src/preflight/directus/fingerprint.rs, src/preflight/access/validate.rs); never in `public` by name,
-- so a database whose search_path names another schema is checked where it is used.
-- Applied before the schema (db-init/, pre), so every db-init-post file can call it. db-init-post files
-- 004-017 carry their own copy of this loop from before it existed; applied migrations are never edited.

CREATE OR REPLACE FUNCTION trm_require_columns(
  migration text,
  columns text[],
  hint text DEFAULT 'db-init-post runs after the Directus schema apply: is the field in snapshots/schema.yaml?')
RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  malformed text;
  missing text;
BEGIN
  SELECT string_agg(quote_literal(w), ', ') INTO malformed
    FROM unnest(columns) AS w
   WHERE w IS NULL OR w !~ '^[^.]+\.[^.]+$';
  IF malformed IS NOT NULL THEN
    RAISE EXCEPTION '%: trm_require_columns takes table.column names, got %', migration, malformed;
  END IF;
  SELECT string_agg(w, ', ' ORDER BY n) INTO missing
    FROM unnest(columns) WITH ORDINALITY AS u(w, n)
   WHERE NOT EXISTS (SELECT FROM information_schema.columns c
                      WHERE c.table_schema = current_schema()
                        AND c.table_name = split_part(w, '.', 1)
                        AND c.column_name = split_part(w, '.', 2));
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION '%: column % does not exist in schema %', migration, missing, current_schema()
      USING HINT = hint;
  END IF;
END
$fn$;
