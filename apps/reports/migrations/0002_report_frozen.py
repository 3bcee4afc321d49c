from django.db import migrations

from apps.core.append_only import append_only

# The figures of any version never change; an issued (or superseded) version changes only from issued to
# superseded; only a version not yet issued can be deleted. Enforced by the database, whatever the application does.
FORWARD = """
CREATE OR REPLACE FUNCTION keel_report_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status IN ('issued', 'superseded') THEN
            RAISE EXCEPTION 'A % report cannot be deleted (%.%)', OLD.status, TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.data IS DISTINCT FROM OLD.data OR NEW.data_sha256 IS DISTINCT FROM OLD.data_sha256
       OR NEW.month IS DISTINCT FROM OLD.month OR NEW.version IS DISTINCT FROM OLD.version
       OR NEW.computed_at IS DISTINCT FROM OLD.computed_at THEN
        RAISE EXCEPTION 'A report''s figures never change: make a new version (%.%)', TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status IN ('issued', 'superseded') THEN
        IF NOT (OLD.status = 'issued' AND NEW.status = 'superseded')
           OR NEW.commentary IS DISTINCT FROM OLD.commentary OR NEW.pdf IS DISTINCT FROM OLD.pdf
           OR NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256 OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
           OR NEW.issued_by IS DISTINCT FROM OLD.issued_by OR NEW.reason IS DISTINCT FROM OLD.reason THEN
            RAISE EXCEPTION 'An issued report is frozen: make a new version (%.%)', TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS report_guard ON reports_report;
CREATE TRIGGER report_guard BEFORE UPDATE OR DELETE ON reports_report
    FOR EACH ROW EXECUTE FUNCTION keel_report_guard();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS report_guard ON reports_report;
DROP FUNCTION IF EXISTS keel_report_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
        append_only("reports_delivery", "report_delivery", "Report deliveries"),
    ]
