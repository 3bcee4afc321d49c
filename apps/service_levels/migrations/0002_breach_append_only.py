"""The database itself refuses to change or remove a recorded breach, whatever the application does."""

from django.db import migrations

from apps.core.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("service_levels", "0001_initial")]
    operations = [append_only("service_levels_breach", "breach", "SLO breaches")]
