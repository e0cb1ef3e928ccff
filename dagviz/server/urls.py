"""URL routes of the dagviz web app."""

from django.contrib import admin
from django.urls import include, path

from runs import views
from runs.auth import views as auth_views
from runs.graphql.views import DagvizGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("login", auth_views.login_view, name="login"),
    path("logout", auth_views.logout_view, name="logout"),
    path("graphql", DagvizGraphQLView.as_view(graphiql=True), name="graphql"),
    path("", include("runs.urls")),
]
