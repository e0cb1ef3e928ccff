"""Pages of the web UI: jobs, the graph explorer, the launchpad, the run list and the run page."""

from django.urls import path

from runs import views

app_name = "ui"

urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/<str:name>/", views.job_graph, name="job"),
    path("jobs/<str:name>/launch", views.launchpad, name="launchpad"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<str:run_id>/", views.run_page, name="run"),
]
