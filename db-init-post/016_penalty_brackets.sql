-- The one bracket evaluator (issue 26): "numbers in the database, math in code", and the code is here,
-- once, for every caller (the processor, a preview, a person with psql). Nothing else turns brackets
-- and an offence into penalty seconds.
--   * trm_penalty(brackets jsonb, offence numeric): the math. IMMUTABLE, reads no table, so it
--     evaluates the brackets stored in penalty_formulas and brackets that are not stored yet (a
--     proposed change, an old version) the same way;
--   * trm_formula_brackets(owner_type, owner_id, penalty_type): an owner's enabled brackets as that
--     jsonb, the shape entry_penalties.formula_snapshot keeps;
--   * trm_formula_penalty(owner_type, owner_id, penalty_type, offence): the two together.
-- The rules (README "The bracket evaluator", the processor contract):
--   * a bracket holds offences in [offence_min, offence_max): start inclusive, end exclusive, no
--     offence_max = no upper end; an offence in no bracket costs nothing (no row);
--   * fixed: penalty_seconds;
--   * per_unit: penalty_seconds for every started unit above offence_min, ceil(offence - offence_min)
--     units ("per minute or part of a minute"), so the offence offence_min itself costs 0;
--   * disqualification: disqualified = true, seconds = penalty_seconds (0 unless the regulations
--     also give a time);
--   * two brackets holding the offence, an unknown operator, a bracket without offence_min or
--     penalty_seconds, or a NULL offence are errors (SQLSTATE 22023), never a silent guess.

-- ---- the tables and columns this file relies on ------------------------------------------------------
DO $$
DECLARE
  w text;
BEGIN
  FOREACH w IN ARRAY ARRAY['penalty_formulas.belongs_to_type', 'penalty_formulas.belongs_to_id', 'penalty_formulas.type',
                           'penalty_formulas.offence_min', 'penalty_formulas.offence_max', 'penalty_formulas.operator',
                           'penalty_formulas.penalty_seconds', 'penalty_formulas.enabled', 'penalty_formulas.event_id'] LOOP
    IF NOT EXISTS (SELECT FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = split_part(w, '.', 1) AND column_name = split_part(w, '.', 2)) THEN
      RAISE EXCEPTION '016_penalty_brackets: column public.% does not exist', w
        USING HINT = 'db-init-post runs after the Directus schema apply: is the collection in snapshots/schema.yaml?';
    END IF;
  END LOOP;
END
$$;

-- One bracket's refusal: SQLSTATE 22023 (invalid_parameter_value), naming the bracket by its position
-- (1-based) and its id when it has one.
CREATE OR REPLACE FUNCTION trm_bracket_refuse(bracket_number integer, bracket jsonb, reason text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  RAISE EXCEPTION '%', format('penalty bracket %s%s: %s (rule penalty_bracket_valid)',
                              bracket_number, coalesce(' (formula ' || (bracket ->> 'id') || ')', ''), reason)
    USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'penalty_bracket_valid';
END
$fn$;

CREATE OR REPLACE FUNCTION trm_penalty(brackets jsonb, offence numeric)
RETURNS TABLE (bracket jsonb, seconds integer, disqualified boolean)
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  b jsonb;
  i integer := 0;
  lo numeric;
  hi numeric;
  op text;
  per integer;
  found_at integer;
  result numeric;
BEGIN
  IF offence IS NULL THEN
    RAISE EXCEPTION 'trm_penalty: the offence is NULL (km/h over, minutes late, waypoints missed...: a number)'
      USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'penalty_bracket_valid';
  END IF;
  IF brackets IS NULL OR jsonb_typeof(brackets) <> 'array' THEN
    RAISE EXCEPTION 'trm_penalty: brackets must be a JSON array of {offence_min, offence_max, operator, penalty_seconds}, not %',
                    coalesce(jsonb_typeof(brackets), 'NULL')
      USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'penalty_bracket_valid';
  END IF;
  FOR b IN SELECT value FROM jsonb_array_elements(brackets) LOOP
    i := i + 1;
    IF jsonb_typeof(b) <> 'object' THEN
      PERFORM trm_bracket_refuse(i, NULL, format('a bracket is a JSON object, not %s', jsonb_typeof(b)));
    END IF;
    IF jsonb_typeof(b -> 'offence_min') IS DISTINCT FROM 'number' THEN
      PERFORM trm_bracket_refuse(i, b, 'offence_min is required (a number: the bracket''s inclusive start)');
    END IF;
    IF b ? 'offence_max' AND jsonb_typeof(b -> 'offence_max') NOT IN ('number', 'null') THEN
      PERFORM trm_bracket_refuse(i, b, 'offence_max is a number (the exclusive end) or null (no upper end)');
    END IF;
    IF jsonb_typeof(b -> 'penalty_seconds') IS DISTINCT FROM 'number' OR (b ->> 'penalty_seconds')::numeric < 0
       OR (b ->> 'penalty_seconds')::numeric <> trunc((b ->> 'penalty_seconds')::numeric) THEN
      PERFORM trm_bracket_refuse(i, b, 'penalty_seconds is required (a whole number of seconds, 0 or more)');
    END IF;
    lo := (b ->> 'offence_min')::numeric;
    hi := (b ->> 'offence_max')::numeric;
    op := b ->> 'operator';
    IF op IS NULL OR op NOT IN ('fixed', 'per_unit', 'disqualification') THEN
      PERFORM trm_bracket_refuse(i, b, format('operator %s is not fixed, per_unit or disqualification', coalesce(op, '(none)')));
    END IF;
    IF hi IS NOT NULL AND hi <= lo THEN
      PERFORM trm_bracket_refuse(i, b, format('offence_max %s is not above offence_min %s', hi, lo));
    END IF;
    CONTINUE WHEN offence < lo OR (hi IS NOT NULL AND offence >= hi);
    IF found_at IS NOT NULL THEN
      PERFORM trm_bracket_refuse(i, b, format('offence %s is also in bracket %s: brackets of one formula never overlap', offence, found_at));
    END IF;
    found_at := i;
    per := (b ->> 'penalty_seconds')::integer;
    result := CASE op WHEN 'per_unit' THEN per * ceil(offence - lo) ELSE per END;
    IF result > 2147483647 THEN
      PERFORM trm_bracket_refuse(i, b, format('%s seconds is more than a penalty can hold', result));
    END IF;
    bracket := b;
    seconds := result::integer;
    disqualified := op = 'disqualification';
  END LOOP;
  IF found_at IS NOT NULL THEN
    RETURN NEXT;
  END IF;
END
$fn$;

-- An owner's enabled brackets of one penalty type, ordered by their start: the jsonb trm_penalty reads
-- and entry_penalties.formula_snapshot keeps (every column of each row, so the snapshot says exactly
-- what was applied).
CREATE OR REPLACE FUNCTION trm_formula_brackets(owner_type text, owner_id integer, penalty_type text) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY f.offence_min), '[]'::jsonb)
    FROM penalty_formulas f
   WHERE f.belongs_to_type = owner_type AND f.belongs_to_id = owner_id AND f.type = penalty_type AND f.enabled
$fn$;

CREATE OR REPLACE FUNCTION trm_formula_penalty(owner_type text, owner_id integer, penalty_type text, offence numeric)
RETURNS TABLE (bracket jsonb, seconds integer, disqualified boolean)
LANGUAGE sql STABLE AS $fn$
  SELECT * FROM trm_penalty(trm_formula_brackets(owner_type, owner_id, penalty_type), offence)
$fn$;
