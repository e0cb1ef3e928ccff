"""URL routes of the dagviz web app."""

from django.contrib import admin
from django.urls import path

from runs import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]
