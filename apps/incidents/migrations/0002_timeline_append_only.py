"""The database itself refuses to change or remove timeline events, whatever the application does."""

from django.db import migrations

# The function lives in each client's schema (created through its search path), so client schemas never
# race to replace one shared function while they migrate in parallel.
FORWARD = """
CREATE OR REPLACE FUNCTION keel_incident_event_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'incident timeline events are append-only: % refused on %.%', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS incident_event_append_only ON incidents_incidentevent;
CREATE TRIGGER incident_event_append_only
    BEFORE UPDATE OR DELETE ON incidents_incidentevent
    FOR EACH ROW EXECUTE FUNCTION keel_incident_event_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS incident_event_append_only ON incidents_incidentevent;
DROP FUNCTION IF EXISTS keel_incident_event_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
