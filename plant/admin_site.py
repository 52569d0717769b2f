"""The administration site: staff status alone is not enough, the role table must say so too."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

from common.roles import may


class PlantAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return super().has_permission(request) and may(request.user, "admin.site")


class PlantAdminConfig(AdminConfig):
    """``django.contrib.admin`` on the site above."""

    default_site = "plant.admin_site.PlantAdminSite"
