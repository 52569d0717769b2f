import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

QUANTITY = {"max_digits": 14, "decimal_places": 3}
MINUTES = {"max_digits": 10, "decimal_places": 2}
# Money per unit or per hour (standard costs, rates, a lot's cost), in the currency of MES_CURRENCY.
MONEY = {"max_digits": 14, "decimal_places": 4}


class ErpOwned(models.Model):
    """An object the ERP owns: a unique external key (defined by the subclass) and a UUID."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
