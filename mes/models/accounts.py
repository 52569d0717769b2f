import hashlib
import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_networks(value: str) -> None:
    for entry in value.split():
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValidationError(_("%(entry)s is not an IP address or network (e.g. 10.1.0.0/16).") % {"entry": entry}) from None


def validate_station_names(value: str) -> None:
    for name in value.splitlines():
        if len(name.strip()) > 64:
            raise ValidationError(_("A station name has at most 64 characters: %(name)s") % {"name": name.strip()[:80]})


class ApiAccess(models.Model):
    """Where an integration's token may be used from (no row, or an empty list, means anywhere), and
    which stations an operator's token may name in its confirmations."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_access", verbose_name=_("user"))
    allowed_networks = models.TextField(
        _("allowed networks"),
        blank=True,
        validators=[validate_networks],
        help_text=_("IP addresses or networks, separated by spaces or new lines, e.g. 10.1.0.0/16 192.168.5.20."),
    )
    stations = models.TextField(
        _("stations"),
        blank=True,
        validators=[validate_station_names],
        help_text=_(
            "The stations this user's confirmations may name, one per line. Only for operators: supervisors, "
            "integrations and admins may name any station; the badge an operator may name is that of the employee linked to the user."
        ),
    )

    class Meta:
        verbose_name = _("API access rule")
        verbose_name_plural = _("API access rules")

    def __str__(self) -> str:
        return f"{self.user}: {self.allowed_networks or '*'}"

    def station_names(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.stations.splitlines() if name.strip())

    def allows(self, address: str) -> bool:
        networks = self.allowed_networks.split()
        return not networks or address_in(address, networks)


def address_in(address: str, networks: list[str]) -> bool:
    """Whether a client address (``REMOTE_ADDR``) lies in one of the networks (addresses or CIDR)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A server listening on :: sees IPv4 clients as ::ffff:a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


def token_digest(key: str) -> str:
    """What is stored of an API token: its SHA-256. A token is 160 random bits, so a fast hash is
    enough (nothing to guess by brute force) and keeps authentication cheap on the hot path."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A user's API token (``Authorization: Token <key>``), of which only a hash is kept: the token
    itself is shown once, when it is created or rotated (``manage.py create_api_token``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_token", verbose_name=_("user"))
    key_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("begins with"), max_length=8, editable=False, help_text=_("The first characters, to tell tokens apart."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, help_text=_("Empty: never."))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
