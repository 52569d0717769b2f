"""The site's URLs plus one page that fails, to see the 500 page as a person would."""

from django.urls import path

from plant import urls
from plant.views import errors


def fails(request):
    raise RuntimeError("a fault for the test")


urlpatterns = [path("fails/", fails), *urls.urlpatterns]

handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
