"""Telling people when ERP sync needs attention: a log line, and an optional webhook."""

from __future__ import annotations

import json
import logging

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from erp_sync.selectors import sync_health

logger = logging.getLogger("erp_sync.alerts")


def alert_if_needed() -> bool:
    """Check the sync health; when it needs attention, log it and post it to the webhook. Returns whether it did."""
    health = sync_health()
    alert = health["alert"]
    if not alert["active"]:
        return False
    for reason in alert["reasons"]:
        logger.warning("ERP sync alert %s: %s", reason["code"], reason["message"])
    webhook = settings.ERP_SYNC_ALERT_WEBHOOK
    if webhook:
        body = json.dumps(
            {"source": "mes", "alert": alert, "pending": health["pending"], "dead": health["dead"],
             "oldest_pending_seconds": health["oldest_pending_seconds"]},
            cls=DjangoJSONEncoder,
        )
        try:
            response = requests.post(webhook, data=body, headers={"Content-Type": "application/json"}, timeout=5)
            if response.status_code >= 400:
                logger.warning("ERP sync alert webhook answered %s", response.status_code)
        except requests.RequestException as error:
            logger.warning("ERP sync alert webhook unreachable: %s", error)
    return True
