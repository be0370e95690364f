-- A speed zone's dz and fz waypoints are on the zone's own segment. speed_limit_zones.start_waypoint_id
-- and end_waypoint_id (issue 26, scripts/schema/phase26.mjs) are set by the roadbook's GPX import, which
-- only ever picks waypoints of the zone's segment; from this file on a race director may also correct
-- them by hand in the admin UI (snapshots/access.yaml, policy "directing"). Directus validates a
-- many-to-one only as an id, so without this any writer could point a zone at a waypoint of another
-- stage, another event or another organisation, and the processor would time the zone from there.
--   * speed_limit_zones: on insert, and when segment_id, start_waypoint_id or end_waypoint_id changes;
--   * waypoints:         a waypoint a zone runs from or to is not moved to another segment.
-- Refusals: SQLSTATE 23514 (check_violation), constraint speed_limit_zone_waypoints_same_segment; the
-- sentence names the table, the column, the writer's own value and the rule, never the segment, stage
-- or event of the waypoint pointed at (it may be another club's: the same sentence as for one that does
-- not exist).

SELECT trm_require_columns('030_zone_waypoints', ARRAY[
  'speed_limit_zones.segment_id', 'speed_limit_zones.start_waypoint_id', 'speed_limit_zones.end_waypoint_id',
  'waypoints.segment_id']);

-- The one refusal of this rule: `what` says what is wrong, in the writer's own terms.
CREATE OR REPLACE FUNCTION trm_refuse_zone_waypoint(tbl text, col text, what text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '%.%: % (rule speed_limit_zone_waypoints_same_segment)', tbl, col, what
    USING ERRCODE = 'check_violation', CONSTRAINT = 'speed_limit_zone_waypoints_same_segment', TABLE = tbl, COLUMN = col;
END
$fn$;

CREATE OR REPLACE FUNCTION trm_speed_limit_zones_waypoints() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.start_waypoint_id IS NOT NULL
     AND NOT EXISTS (SELECT FROM waypoints w WHERE w.id = NEW.start_waypoint_id AND w.segment_id = NEW.segment_id) THEN
    PERFORM trm_refuse_zone_waypoint('speed_limit_zones', 'start_waypoint_id',
                                      format('waypoint %s is not on the zone''s segment', NEW.start_waypoint_id));
  END IF;
  IF NEW.end_waypoint_id IS NOT NULL
     AND NOT EXISTS (SELECT FROM waypoints w WHERE w.id = NEW.end_waypoint_id AND w.segment_id = NEW.segment_id) THEN
    PERFORM trm_refuse_zone_waypoint('speed_limit_zones', 'end_waypoint_id',
                                      format('waypoint %s is not on the zone''s segment', NEW.end_waypoint_id));
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER speed_limit_zones_waypoints
  BEFORE INSERT OR UPDATE OF segment_id, start_waypoint_id, end_waypoint_id ON speed_limit_zones
  FOR EACH ROW EXECUTE FUNCTION trm_speed_limit_zones_waypoints();

CREATE OR REPLACE FUNCTION trm_waypoints_keep_zone_segment() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF EXISTS (SELECT FROM speed_limit_zones z
              WHERE (z.start_waypoint_id = NEW.id OR z.end_waypoint_id = NEW.id) AND z.segment_id IS DISTINCT FROM NEW.segment_id) THEN
    PERFORM trm_refuse_zone_waypoint('waypoints', 'segment_id',
                                      format('waypoint %s is where a speed zone of its segment runs from or to', NEW.id));
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER waypoints_keep_zone_segment
  BEFORE UPDATE OF segment_id ON waypoints
  FOR EACH ROW WHEN (OLD.segment_id IS DISTINCT FROM NEW.segment_id)
  EXECUTE FUNCTION trm_waypoints_keep_zone_segment();
