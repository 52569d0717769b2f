from django.db import migrations, models

from common.migration_operations import LockTimeout

FAILURE_KINDS = [
    ("unreachable", "unreachable"),
    ("timeout", "connect timeout"),
    ("refused", "refused for now"),
    ("rejected", "rejected"),
    ("ambiguous", "outcome unknown"),
]

#: How the connectors worded a failure before they said its kind: messages still waiting keep
#: their place in an outage's recovery across the upgrade.
_WORDING = (("connect timeout:", "timeout"), ("connection refused:", "unreachable"), ("connection failed:", "unreachable"))


def classify_waiting_messages(apps, schema_editor):
    OutboxMessage = apps.get_model("erp_sync", "OutboxMessage")
    waiting = OutboxMessage.objects.filter(state__in=["retrying", "dead"], failure_kind="")
    for mark, kind in _WORDING:
        waiting.filter(last_error__contains=mark).update(failure_kind=kind)


class Migration(migrations.Migration):

    dependencies = [
        ("erp_sync", "0004_encrypted_secrets"),
    ]

    operations = [
        LockTimeout(),
        migrations.AddField(
            model_name="deliveryattempt",
            name="failure_kind",
            field=models.CharField(blank=True, choices=FAILURE_KINDS, max_length=16, verbose_name="kind of failure"),
        ),
        migrations.AddField(
            model_name="outboxmessage",
            name="failure_kind",
            field=models.CharField(
                blank=True, choices=FAILURE_KINDS, max_length=16, verbose_name="kind of failure",
                help_text="What went wrong on the last attempt, as the connector classified it; empty once acknowledged.",
            ),
        ),
        migrations.RunPython(classify_waiting_messages, migrations.RunPython.noop),
    ]
