-- Roles and grants of a team project, applied (idempotently) after every migration by the
-- account that migrates (the database owner, with CREATEROLE). docs/team.md explains them.
--
--   skintrace_annotator  read everything; paint and save masks, exclusions, pre-labels;
--                        move images through new/prelabeled/in_progress/submitted; claims
--   skintrace_reviewer   annotator + accept/reject, assignments, models and their log
--   skintrace_admin      everything: import/remove images, project settings, meta
--
-- They are NOLOGIN group roles: the server's admin grants them to login roles
-- (GRANT skintrace_annotator TO ana). Passwords stay PostgreSQL's business.
-- Grants cannot see which status an UPDATE writes, so "annotators cannot accept" is a
-- trigger (images_status_guard) on top of the grants; the workflow code
-- (core.project.status) checks the transitions themselves for everyone.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skintrace_annotator') THEN
        CREATE ROLE skintrace_annotator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skintrace_reviewer') THEN
        CREATE ROLE skintrace_reviewer NOLOGIN IN ROLE skintrace_annotator;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skintrace_admin') THEN
        CREATE ROLE skintrace_admin NOLOGIN IN ROLE skintrace_reviewer;
    END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO skintrace_annotator;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO skintrace_annotator;

-- Annotators: their own work.
GRANT INSERT, UPDATE ON masks, exclusions, annotator_masks TO skintrace_annotator;
GRANT INSERT, UPDATE, DELETE ON prelabels, prelabel_state, blobs, claims TO skintrace_annotator;
GRANT INSERT, UPDATE ON settings TO skintrace_annotator;
GRANT INSERT ON history TO skintrace_annotator;
GRANT UPDATE (status, updated_utc, params_json) ON images TO skintrace_annotator;

-- Reviewers: the verdicts (trigger below), who does what, the models.
GRANT INSERT, UPDATE, DELETE ON assignments TO skintrace_reviewer;
GRANT INSERT, UPDATE, DELETE ON models, model_log TO skintrace_reviewer;

-- Admins: everything in the project.
GRANT ALL ON ALL TABLES IN SCHEMA public TO skintrace_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO skintrace_admin;

CREATE OR REPLACE FUNCTION skintrace_status_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    target TEXT;
BEGIN
    IF TG_TABLE_NAME = 'images' THEN
        IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
            RETURN NEW;
        END IF;
        target := NEW.status;
    ELSE
        target := NEW.to_status;
    END IF;
    IF target IN ('accepted', 'rejected')
       AND NOT pg_has_role(current_user, 'skintrace_reviewer', 'MEMBER') THEN
        RAISE EXCEPTION 'only a reviewer can set an image to %', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER images_status_guard
    BEFORE UPDATE OF status ON images
    FOR EACH ROW EXECUTE FUNCTION skintrace_status_guard();
CREATE OR REPLACE TRIGGER history_status_guard
    BEFORE INSERT ON history
    FOR EACH ROW EXECUTE FUNCTION skintrace_status_guard();
