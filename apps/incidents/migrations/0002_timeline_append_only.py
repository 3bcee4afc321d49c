"""The database itself refuses to change or remove timeline events, whatever the application does."""

from django.db import migrations

from apps.core.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [append_only("incidents_incidentevent", "incident_event", "incident timeline events")]
