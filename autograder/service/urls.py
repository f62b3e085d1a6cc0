from django.contrib import admin
from django.conf import settings
from django.urls import include, path

from autograder.service import views

urlpatterns = [
    path("", views.index, name="index"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("submit", views.submit_form, name="submit"),
    path("api/submissions", views.submit_api, name="api-submit"),
    path("submissions/<int:pk>/", views.submission_view, name="submission"),
    path("submissions/<int:pk>/feedback.html", views.feedback_view, name="feedback"),
    path("submissions/<int:pk>/events", views.submission_events, name="events"),
    path("live.js", views.live_js, name="live-js"),
    path("staff/", views.class_view, name="class"),
    path("staff/rescore", views.rescore_view, name="rescore"),
    path("staff/export/<str:format>", views.export_view, name="export"),
    path("admin/", admin.site.urls),
]

if settings.LTI:
    urlpatterns.append(path("lti/", include("autograder.service.lti.urls")))
