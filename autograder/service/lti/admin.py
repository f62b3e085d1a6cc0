from django.contrib import admin

from autograder.service.lti.models import LaunchRefusal, LineItemLink, LtiStaff, LtiStudent, RegistrationInvite, ScorePost


@admin.register(ScorePost)
class ScorePostAdmin(admin.ModelAdmin):
    list_display = ("id", "student", "score_given", "score_maximum", "status", "attempts", "next_try", "last_error")
    list_filter = ("status",)


@admin.register(LaunchRefusal)
class LaunchRefusalAdmin(admin.ModelAdmin):
    list_display = ("created", "step", "issuer", "client_id", "deployment_id", "reason")
    readonly_fields = [f.name for f in LaunchRefusal._meta.fields]


admin.site.register(LtiStudent)
admin.site.register(LtiStaff)
admin.site.register(LineItemLink)


@admin.register(RegistrationInvite)
class RegistrationInviteAdmin(admin.ModelAdmin):
    list_display = ("id", "created", "expires", "used", "registration")
    readonly_fields = [f.name for f in RegistrationInvite._meta.fields]
