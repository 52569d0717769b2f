"""Secrets at rest: ERP passwords and tokens, secrets in connection options, device passwords.

They are stored encrypted with ``cryptography``'s Fernet (AES-128-CBC with HMAC-SHA256) under the
keys of ``MES_SECRETS_KEY`` (settings.MES_SECRETS_KEYS): the first key encrypts, every key
decrypts (MultiFernet), so a new key is put first, ``manage.py rotate_secrets`` re-encrypts
everything with it, and the old one can then be dropped.

A stored value reads ``fernet:<token>``. One that no key can decrypt (the key was lost or
replaced) is read as an ``UnreadableSecret``: it keeps its ciphertext, so saving the record does
not destroy it, and everything that would use it (``ErpConnection.as_config``, the collector,
a test read) refuses with "the secret must be re-entered" instead of sending a wrong password.
Text without the prefix is a secret stored before encryption (migrations encrypt those).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.masking import is_secret_name

PREFIX = "fernet:"


class UnreadableSecret(str):
    """A stored secret no key in MES_SECRETS_KEY decrypts; its value is the stored ciphertext."""


class SecretMustBeReentered(DomainError):
    def __init__(self, what: str, paths: list[str]) -> None:
        super().__init__(
            "secret_must_be_reentered",
            _("The secret must be re-entered: %(what)s holds secrets that MES_SECRETS_KEY cannot decrypt (%(paths)s).")
            % {"what": what, "paths": ", ".join(paths)},
            kind=ErrorKind.CONFLICT,
            fields={path: "must be re-entered" for path in paths},
        )
        self.paths = paths


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _keys() -> MultiFernet:
    return _fernet(tuple(settings.MES_SECRETS_KEYS))


def encrypt(text: str) -> str:
    """The stored form of a secret; empty stays empty, an unreadable one keeps its ciphertext."""
    if not text:
        return text
    if isinstance(text, UnreadableSecret):
        return str.__str__(text)
    return PREFIX + _keys().encrypt(text.encode()).decode()


def decrypt(stored: str) -> str:
    """The secret, or an ``UnreadableSecret`` when no key decrypts it; text stored before encryption as it is."""
    if not stored or not stored.startswith(PREFIX):
        return stored
    try:
        return _keys().decrypt(stored[len(PREFIX):].encode()).decode()
    except (InvalidToken, ValueError):
        return UnreadableSecret(stored)


def sealed(value: Any) -> Any:
    """A JSON document with every secret (by its key's name, at any depth) encrypted."""
    if isinstance(value, dict):
        return {
            key: encrypt(item) if is_secret_name(key) and isinstance(item, str) else sealed(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [sealed(item) for item in value]
    return value


def unsealed(value: Any) -> Any:
    """A JSON document with every encrypted secret decrypted (or marked unreadable)."""
    if isinstance(value, dict):
        return {key: unsealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unsealed(item) for item in value]
    if isinstance(value, str):
        return decrypt(value)
    return value


def unreadable_paths(value: Any, path: str = "") -> list[str]:
    """Where a document holds secrets no key decrypts (dotted paths)."""
    if isinstance(value, UnreadableSecret):
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in unreadable_paths(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in unreadable_paths(item, f"{path}.{index}" if path else str(index))]
    return []


class EncryptedTextField(models.TextField):
    """A secret kept encrypted in the database and read back decrypted (see the module's docstring)."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if isinstance(value, str) else value


class SecretsJSONField(models.JSONField):
    """JSON whose secret values (by their key's name) are kept encrypted in the database."""

    def from_db_value(self, value, expression, connection):
        return unsealed(super().from_db_value(value, expression, connection))

    def get_prep_value(self, value):
        return super().get_prep_value(sealed(value))


def secrets_reencrypt(model, fields: list[str]) -> tuple[int, list[tuple[Any, str]]]:
    """Store every row's secret fields again: plain text gets encrypted and everything is encrypted
    with the first key. Returns (rows written, [(row, field path) that no key decrypts]); those
    keep their ciphertext. Used by the migrations that introduced encryption and by rotate_secrets."""
    written, unreadable = 0, []
    for row in model._default_manager.order_by("pk"):
        for name in fields:
            unreadable += [(row, f"{name}.{path}" if path else name) for path in unreadable_paths(getattr(row, name))]
        row.save(update_fields=fields)
        written += 1
    return written, unreadable
