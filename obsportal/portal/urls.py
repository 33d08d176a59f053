from django.urls import path

from obsportal.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.event_list, name="events"),
    path("trail/", views.trail, name="trail"),
]
