from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ErpSyncConfig(AppConfig):
    name = "erp_sync"
    verbose_name = _("ERP synchronisation")
