from django.contrib import admin

from autograder.service.models import Assignment, Extension, Job, Student, Submission


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("title", "deadline", "late_until", "late_penalty_percent_per_day", "hidden_per_hour", "counted")


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    list_display = ("student_id", "name", "email", "token_revoked")
    search_fields = ("student_id", "name", "email")
    raw_id_fields = ("user",)
    readonly_fields = ("token_hash",)


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ("student", "assignment", "until")


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "student", "kind", "status", "score", "max_score", "late_days", "created")
    list_filter = ("status", "kind", "assignment")
    search_fields = ("student__student_id", "sha256")
    readonly_fields = [f.name for f in Submission._meta.fields]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "submission", "priority", "status", "attempts", "lease_until", "worker")
    list_filter = ("status",)
    readonly_fields = ("lease_token",)
