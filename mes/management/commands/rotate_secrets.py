import sys

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from common.crypto import EncryptedTextField, SecretsJSONField, secrets_reencrypt
from mes.services.audit import event_record


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (ERP connections, event destinations, device mappings, andon channels) with the first key of MES_SECRETS_KEY. "
        "Put the new key first, keep the old ones after it, run this, then drop the old ones."
    )

    def handle(self, *args, **options):
        written, unreadable = {}, []
        with transaction.atomic():
            for model in apps.get_models():
                fields = [field.name for field in model._meta.concrete_fields if isinstance(field, (EncryptedTextField, SecretsJSONField))]
                if not fields:
                    continue
                rows, missed = secrets_reencrypt(model, fields)
                written[model._meta.label] = rows
                unreadable += [f"{model._meta.label} {row} {path}" for row, path in missed]
            event_record(
                object_type="secrets", object_key="MES_SECRETS_KEY", action="rotate", actor_label="manage.py rotate_secrets",
                after={"rows": written, "must_be_reentered": unreadable},
            )
        self.stdout.write("Re-encrypted with the first key of MES_SECRETS_KEY: "
                          + ", ".join(f"{count} {label}" for label, count in written.items()) + ".")
        if unreadable:
            self.stderr.write("No key in MES_SECRETS_KEY decrypts these; they were kept as they are and must be re-entered:\n  "
                              + "\n  ".join(unreadable))
            sys.exit(1)
