from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from plant.selectors.home import home_sections


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Each role's figures that need acting on, each a link to where it is acted on (signed-in readers)."""
    sections = home_sections(user=request.user) if request.user.is_authenticated else []
    return render(request, "plant/home.html", {"sections": sections})


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
