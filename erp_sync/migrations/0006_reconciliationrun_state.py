from django.db import migrations, models


def finished_runs_say_so(apps, schema_editor):
    # Every run before this one ran in the request or task that created it: finished, or cut off for good.
    apps.get_model("erp_sync", "ReconciliationRun").objects.update(state="finished")


class Migration(migrations.Migration):
    dependencies = [("erp_sync", "0005_failure_kind")]

    operations = [
        migrations.AddField(
            model_name="reconciliationrun",
            name="state",
            field=models.CharField(
                choices=[("queued", "waiting for a worker"), ("running", "running"), ("finished", "finished")],
                default="running",
                help_text="A run asked for on the page waits for a worker; the worker runs it and finishes it.",
                max_length=16,
                verbose_name="state",
            ),
        ),
        migrations.RunPython(finished_runs_say_so, migrations.RunPython.noop),
    ]
