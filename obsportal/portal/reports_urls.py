from django.urls import path

from obsportal.portal.views import reports

app_name = "reports"
urlpatterns = [
    path("", reports.report_list, name="list"),
    path("new/", reports.report_new, name="new"),
    path("schedules/<int:schedule_id>/recipients/", reports.schedule_recipients, name="recipients"),
    path("<int:run_id>/", reports.report_run, name="run"),
    path("<int:run_id>/files/<str:name>", reports.report_file, name="file"),
]
