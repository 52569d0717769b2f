import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
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
