from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from common.roles import may
from plant.selectors.home import home_sections
from shopfloor.shift_calendar import plant_production_day
from shopfloor.shift_charts import day_charts
from shopfloor.shift_progress import day_progress


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Each role's figures that need acting on, each a link to where it is acted on (signed-in readers)."""
    sections = home_sections(user=request.user) if request.user.is_authenticated else []
    # Who watches the floor (supervisors, planners, quality, managers) sees the day's charts; everyone signed in, which day it is.
    charts = day_charts(day_progress()) if may(request.user, "oee.view") else None
    day = charts["day"] if charts else plant_production_day() if request.user.is_authenticated else None
    return render(request, "plant/home.html", {"sections": sections, "charts": charts, "production_day": day})


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
