-- Each membership also names its user in the column of its role (organization_users.org_admin_user_id,
-- race_director_user_id, ...; scripts/schema/phase4.mjs says why): the access file's filters read
-- "$CURRENT_USER.<role>_of.organization_id", the organisations where the user holds that role.
-- The columns are derived, never written by hand: this trigger sets them on every insert and update.
CREATE OR REPLACE FUNCTION organization_users_role_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.org_admin_user_id     := CASE WHEN NEW.role = 'org-admin'     THEN NEW.user_id END;
  NEW.race_director_user_id := CASE WHEN NEW.role = 'race-director' THEN NEW.user_id END;
  NEW.marshal_user_id       := CASE WHEN NEW.role = 'marshal'       THEN NEW.user_id END;
  NEW.timekeeper_user_id    := CASE WHEN NEW.role = 'timekeeper'    THEN NEW.user_id END;
  NEW.participant_user_id   := CASE WHEN NEW.role = 'participant'   THEN NEW.user_id END;
  NEW.viewer_user_id        := CASE WHEN NEW.role = 'viewer'        THEN NEW.user_id END;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS organization_users_role_columns ON organization_users;
CREATE TRIGGER organization_users_role_columns
  BEFORE INSERT OR UPDATE ON organization_users
  FOR EACH ROW EXECUTE FUNCTION organization_users_role_columns();

-- Rows that existed before the trigger.
UPDATE organization_users SET role = role;
