from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "autograder.service"
    label = "service"
    verbose_name = "Submission service"
    default_auto_field = "django.db.models.BigAutoField"
