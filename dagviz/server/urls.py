"""URL routes of the dagviz web app."""

from django.contrib import admin
from django.urls import include, path

from runs import views
from runs.graphql.views import DagvizGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("graphql", DagvizGraphQLView.as_view(graphiql=True), name="graphql"),
    path("", include("runs.urls")),
]
