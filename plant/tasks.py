"""Celery tasks of the composition room (thin: each calls one function). Named, so beat names them."""

from __future__ import annotations

from celery import shared_task

from plant.andon_watch import andon_watch


@shared_task(name="andon.watch", ignore_result=True, time_limit=60, soft_time_limit=50)
def watch() -> tuple[int, int]:
    """Calls for help the product raises by itself, and resolves when their cause clears."""
    return andon_watch()
