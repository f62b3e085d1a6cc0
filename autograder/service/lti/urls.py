from django.urls import path

from autograder.service.lti import views

urlpatterns = [
    path("login", views.login_view, name="lti-login"),
    path("launch", views.launch_view, name="lti-launch"),
    path("deep-link", views.deep_link_view, name="lti-deep-link"),
    path("token", views.new_token_view, name="lti-token"),
    path("jwks.json", views.jwks_view, name="lti-jwks"),
    path("register/<str:secret>", views.register_view, name="lti-register"),
    path("config.json", views.config_view, name="lti-config"),
    path("staff/", views.staff_view, name="lti-staff"),
]
