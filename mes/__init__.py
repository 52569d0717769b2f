# Load the Celery app with Django, so every process (web included) sends tasks through our
# configured broker rather than Celery's default one.
from mes.celery import app as celery_app

__all__ = ["celery_app"]
