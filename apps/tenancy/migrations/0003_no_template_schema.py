"""Client schemas are now built from the migrations' SQL; the template schema of 0001/0002 is not needed."""

from django.db import migrations, models


def drop_template(apps, schema_editor):
    Client = apps.get_model("tenancy", "Client")
    if Client.objects.filter(schema_name="keel_template").exists():
        Client.objects.filter(schema_name="keel_template").delete()
        schema_editor.execute("DROP SCHEMA IF EXISTS keel_template CASCADE")


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0002_time_zone_utc")]

    operations = [
        migrations.RunPython(drop_template, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="client",
            name="kind",
            field=models.CharField(
                choices=[("msp", "MSP (public schema)"), ("client", "Client")], default="client", max_length=10
            ),
        ),
    ]
