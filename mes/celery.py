"""The Celery application. With REDIS_URL it uses Redis; without, an embedded broker: a SQLite file under var/.

Tasks arrive with the ERP-sync issue; the app exists now so workers and beat have one home.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")

app = Celery("mes")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
