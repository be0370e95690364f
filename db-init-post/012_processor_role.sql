-- Phase 6: the processor's own database role, so its writes are told apart in the timing ledger (010)
-- from Directus's and from a person's, with only the privileges its contract needs (CONTEXT.md,
-- phases 2 and 3). `trm_processor` is a NOLOGIN group role: the operator creates the login the
-- processor uses as a member of it (docs in README, "The stewards' record"):
--     CREATE ROLE trm_processor_rally LOGIN PASSWORD '...' IN ROLE trm_processor;
-- The ledger then names the login (session_user), e.g. db:trm_processor_rally.
-- What it may do:
--   * positions: insert, read, and update every column but `faulty` (ON CONFLICT (device_id, ts));
--   * read the reference data: events, classes, entries, entry devices, devices, the course, the
--     penalty formulas and the start list;
--   * entry_crossings: read, insert, update, delete (its idempotent crossings);
--   * entry_penalties: read, insert, delete; update only the computed numbers (never a review:
--     review_state, override_*);
--   * stage_results: read, insert, delete; update only the computed numbers (never status: publishing
--     is the race direction's);
-- and nothing else: no Directus table, no membership, no ledger (its triggers write as their owner).
-- Roles are the cluster's, not the database's: the role is created once (by a migration user allowed
-- to, e.g. the superuser of the compose database); without CREATEROLE the file only grants to an
-- existing role, and a NOTICE says how to create it and then call trm_grant_processor_privileges().

CREATE OR REPLACE FUNCTION trm_grant_processor_privileges() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE 'GRANT USAGE ON SCHEMA public TO trm_processor';
  EXECUTE 'GRANT SELECT, INSERT ON positions TO trm_processor';
  EXECUTE 'GRANT UPDATE (ingested_at, latitude, longitude, altitude, angle, speed, satellites, priority, codec, attributes) ON positions TO trm_processor';
  EXECUTE 'GRANT SELECT ON events, classes, entries, entry_devices, devices, stages, segments, geofences, waypoints,
                              speed_limit_zones, penalty_formulas, entry_segment_starts TO trm_processor';
  EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON entry_crossings TO trm_processor';
  EXECUTE 'GRANT SELECT, INSERT, DELETE ON entry_penalties, stage_results TO trm_processor';
  EXECUTE 'GRANT UPDATE (stage_id, segment_id, type, formula_id, formula_snapshot, inputs, seconds, computed_at) ON entry_penalties TO trm_processor';
  EXECUTE 'GRANT UPDATE (started_at, finished_at, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class) ON stage_results TO trm_processor';
  EXECUTE 'GRANT USAGE ON SEQUENCE entry_crossings_id_seq, entry_penalties_id_seq, stage_results_id_seq TO trm_processor';
END
$fn$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trm_processor') THEN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
      BEGIN
        CREATE ROLE trm_processor NOLOGIN;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- another database of this cluster created it at the same moment
      END;
    ELSE
      RAISE NOTICE '012_processor_role: % may not create roles: create it (CREATE ROLE trm_processor NOLOGIN) and run SELECT trm_grant_processor_privileges(); in this database', current_user;
      RETURN;
    END IF;
  END IF;
  PERFORM trm_grant_processor_privileges();
END
$$;
