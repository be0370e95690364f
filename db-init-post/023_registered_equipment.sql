-- An entry's equipment is its organisation's (issue 22). An entry's vehicle (entries.vehicle_id) and each
-- of its devices (entry_devices.device_id) must be registered with the organisation of the entry's event
-- (organization_vehicles / organization_devices). A vehicle or device two clubs share is registered
-- with both (a platform admin's act, docs/security.md "Shared rows: consent"), so it passes for both.
-- Without this, any writer (an org-admin or race-director through Directus, which validates only the
-- entry's event; a person with psql) could put another club's tracker on an own entry, and what reads
-- "the devices of my entries" would reach the other club's positions.
--   * entries:             on insert, and when event_id or vehicle_id changes (a moved entry is checked
--                          again, its devices included);
--   * entry_devices:       on insert, and when entry_id or device_id changes;
--   * organization_vehicles / organization_devices: a registration an entry of that organisation still
--                          uses is not deleted or re-pointed (the entry would keep an unregistered row).
-- Refusals: SQLSTATE 23514 (check_violation), constraint entry_vehicle_registered /
-- entry_device_registered; the sentence names the table, the column and the rule, never the row pointed
-- at nor an organisation (the row may be another club's: the same sentence as for one that does not exist).

SELECT trm_require_columns('023_registered_equipment', ARRAY[
  'entries.event_id', 'entries.vehicle_id', 'entry_devices.entry_id', 'entry_devices.device_id',
  'events.organization_id', 'organization_vehicles.organization_id', 'organization_vehicles.vehicle_id',
  'organization_devices.organization_id', 'organization_devices.device_id']);

-- The one check: is `item` (a vehicle or device id, kind 'vehicle' | 'device') registered with the
-- organisation of event `event`? A null item (no vehicle: a foot race) is.
CREATE OR REPLACE FUNCTION trm_registered_with_event(kind text, item uuid, event integer) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
  SELECT item IS NULL OR CASE kind
    WHEN 'vehicle' THEN EXISTS (SELECT 1 FROM organization_vehicles r JOIN events e ON e.organization_id = r.organization_id
                                 WHERE e.id = event AND r.vehicle_id = item)
    WHEN 'device'  THEN EXISTS (SELECT 1 FROM organization_devices r JOIN events e ON e.organization_id = r.organization_id
                                 WHERE e.id = event AND r.device_id = item)
  END
$fn$;

-- Refuses `tbl`.`col` pointing at a `kind` not registered with the entry's organisation.
CREATE OR REPLACE FUNCTION trm_require_registered(tbl text, col text, kind text, item uuid, event integer)
RETURNS void LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  IF NOT trm_registered_with_event(kind, item, event) THEN
    RAISE EXCEPTION '%.%: the % is not registered with the organisation of the entry''s event (rule entry_%_registered)',
                    tbl, col, kind, kind
      USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_' || kind || '_registered', TABLE = tbl, COLUMN = col,
            HINT = format('register the %s with the organisation first (organization_%ss); one another organisation has is shared by a platform admin', kind, kind);
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION trm_entries_equipment_registered() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  d uuid;
BEGIN
  PERFORM trm_require_registered('entries', 'vehicle_id', 'vehicle', NEW.vehicle_id, NEW.event_id);
  IF TG_OP = 'UPDATE' AND NEW.event_id IS DISTINCT FROM OLD.event_id THEN
    FOR d IN SELECT device_id FROM entry_devices WHERE entry_id = NEW.id LOOP
      PERFORM trm_require_registered('entry_devices', 'device_id', 'device', d, NEW.event_id);
    END LOOP;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entries_equipment_registered BEFORE INSERT OR UPDATE OF event_id, vehicle_id ON entries
  FOR EACH ROW EXECUTE FUNCTION trm_entries_equipment_registered();

CREATE OR REPLACE FUNCTION trm_entry_devices_registered() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM trm_require_registered('entry_devices', 'device_id', 'device', NEW.device_id,
                                 (SELECT event_id FROM entries WHERE id = NEW.entry_id));
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entry_devices_registered BEFORE INSERT OR UPDATE OF entry_id, device_id ON entry_devices
  FOR EACH ROW EXECUTE FUNCTION trm_entry_devices_registered();

-- A registration that an entry of its organisation uses stays (AFTER: the row is gone or changed, so a
-- second registration of the same row, a shared one, still counts).
CREATE OR REPLACE FUNCTION trm_registration_in_use() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  kind text := CASE TG_TABLE_NAME WHEN 'organization_vehicles' THEN 'vehicle' ELSE 'device' END;
  item uuid := (to_jsonb(OLD) ->> (kind || '_id'))::uuid;
  used boolean;
BEGIN
  IF kind = 'vehicle' THEN
    SELECT EXISTS (SELECT 1 FROM entries en JOIN events e ON e.id = en.event_id
                    WHERE e.organization_id = OLD.organization_id AND en.vehicle_id = item
                      AND NOT trm_registered_with_event('vehicle', item, en.event_id)) INTO used;
  ELSE
    SELECT EXISTS (SELECT 1 FROM entry_devices ed JOIN entries en ON en.id = ed.entry_id JOIN events e ON e.id = en.event_id
                    WHERE e.organization_id = OLD.organization_id AND ed.device_id = item
                      AND NOT trm_registered_with_event('device', item, en.event_id)) INTO used;
  END IF;
  IF used THEN
    RAISE EXCEPTION '%: the % is used by an entry of the organisation: remove it from the entry first (rule entry_%_registered)',
                    TG_TABLE_NAME, kind, kind
      USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_' || kind || '_registered', TABLE = TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER organization_vehicles_in_use AFTER DELETE OR UPDATE OF organization_id, vehicle_id ON organization_vehicles
  FOR EACH ROW EXECUTE FUNCTION trm_registration_in_use();
CREATE OR REPLACE TRIGGER organization_devices_in_use AFTER DELETE OR UPDATE OF organization_id, device_id ON organization_devices
  FOR EACH ROW EXECUTE FUNCTION trm_registration_in_use();
