"""The LTI tables next to django-lti's (``lti_tool``: registrations, deployments, keys, users,
contexts, memberships): who an LTI user is in the service, used nonces, refused launches, the line
item of each course, and the outbox of scores to post."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from autograder.service.models import Assignment, Student, Submission


class LtiStudent(models.Model):
    """A roster student and the LTI user (``sub`` of a registration) who launched as them."""

    student = models.OneToOneField(Student, on_delete=models.CASCADE, related_name="lti")
    lti_user = models.OneToOneField("lti_tool.LtiUser", on_delete=models.CASCADE, related_name="service_student")

    def __str__(self):
        return f"{self.student} = {self.lti_user.sub}"


class LtiStaff(models.Model):
    """The Django staff login an Instructor or Teaching Assistant launch signs in as."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_staff")
    lti_user = models.OneToOneField("lti_tool.LtiUser", on_delete=models.CASCADE, related_name="service_staff")


class UsedNonce(models.Model):
    """Every id_token nonce accepted once: a second launch with it is a replay. Rows older than the
    login's own record of the nonce (a day, in the cache) are removed: such a nonce is refused anyway."""

    issuer = models.CharField(max_length=255)
    nonce = models.CharField(max_length=255)
    used = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "nonce"], name="nonce_used_once")]


class LaunchRefusal(models.Model):
    """A refused login or launch, with why (shown to staff at /lti/staff/ and in the admin)."""

    created = models.DateTimeField(default=timezone.now, db_index=True)
    step = models.CharField(max_length=10)  # login, launch, deep link, register
    reason = models.TextField()
    issuer = models.CharField(max_length=255, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    deployment_id = models.CharField(max_length=255, blank=True)
    sub = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=64, blank=True)

    def __str__(self):
        return f"{self.created:%Y-%m-%d %H:%M} {self.step}: {self.reason[:80]}"


class LineItemLink(models.Model):
    """The platform's line item (gradebook column) for an assignment in a course, found or created once."""

    context = models.ForeignKey("lti_tool.LtiContext", on_delete=models.CASCADE)
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE)
    url = models.URLField(max_length=1000)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["context", "assignment"], name="one_line_item")]


class ScorePost(models.Model):
    """The outbox: one score to post to a course's line item for one student (AGS Score)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # refused by the platform for good (a 4xx other than 429)
        SUPERSEDED = "superseded"  # a newer score replaced it before it was sent

    student = models.ForeignKey(Student, on_delete=models.CASCADE)
    context = models.ForeignKey("lti_tool.LtiContext", on_delete=models.CASCADE)
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE)
    submission = models.ForeignKey(Submission, null=True, on_delete=models.SET_NULL)
    user_sub = models.CharField(max_length=255)
    score_given = models.FloatField()
    score_maximum = models.FloatField()
    timestamp = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_try = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_try"])]

    def __str__(self):
        return f"{self.student} {self.score_given:g}/{self.score_maximum:g} {self.status}"


class RegistrationInvite(models.Model):
    """A one-time dynamic registration URL made by staff (``serve lti registration-url``): only its
    hash is kept; it works once, until ``expires``, and names the platform it registered."""

    secret_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    used = models.DateTimeField(null=True, blank=True)
    registration = models.ForeignKey("lti_tool.LtiRegistration", null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self):
        state = f"used {self.used:%Y-%m-%d %H:%M}" if self.used else f"until {self.expires:%Y-%m-%d %H:%M}"
        return f"registration URL {self.pk} ({state})"
