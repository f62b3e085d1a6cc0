"""The service's tables: assignments, students and their tokens, extensions, submissions, the job queue."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

DEFAULT_UPLOAD_BYTES = 20 * 2**20
DEFAULT_HIDDEN_PER_HOUR = 10


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, stored as their sha256: a leaked table shows no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Assignment(models.Model):
    class Counted(models.TextChoices):
        BEST = "best", "best graded submission"
        LAST = "last", "last graded submission"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    spec_file = models.CharField(max_length=300, help_text="the copy of questions.toml in the data folder")
    profile = models.CharField(max_length=10, choices=[("quick", "quick"), ("full", "full")], default="quick",
                               help_text="data profile the hidden grading uses (as grade --data)")
    questions = models.JSONField(default=list, blank=True,
                                 help_text="grade only these questions or modules (as grade -q); empty: all")
    timeout = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.1)],
                                help_text="cap every question's time limit, seconds (as grade --timeout)")
    max_upload_bytes = models.PositiveIntegerField(default=DEFAULT_UPLOAD_BYTES, validators=[MinValueValidator(1)])
    hidden_per_hour = models.PositiveIntegerField(default=DEFAULT_HIDDEN_PER_HOUR, validators=[MinValueValidator(1)],
                                                  help_text="hidden gradings a student may ask for in any hour")
    deadline = models.DateTimeField(null=True, blank=True)
    late_until = models.DateTimeField(null=True, blank=True,
                                      help_text="late submissions are accepted until then, with the penalty")
    late_penalty_percent_per_day = models.FloatField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="percent of the score taken off per started day after the student's deadline")
    counted = models.CharField(max_length=4, choices=Counted.choices, default=Counted.BEST)

    def clean(self):
        if self.late_until is not None and self.deadline is None:
            raise ValidationError({"late_until": "a late window needs a deadline"})
        if self.late_until is not None and self.late_until < self.deadline:
            raise ValidationError({"late_until": "the late window must end after the deadline"})
        if self.late_penalty_percent_per_day and self.late_until is None:
            raise ValidationError({"late_penalty_percent_per_day": "a late penalty needs a late window (late_until)"})

    @property
    def spec_path(self):
        """The data folder's questions.toml: what this assignment is graded, shown and rescored with."""
        return settings.DATA_DIR / self.spec_file

    def total(self) -> float:
        """The assignment's points: every question of its questions.toml, or of its ``questions``
        where it names some. A counted score is out of this total (in the gradebook, the LMS and
        the pages), whatever part of the assignment its grading covered."""
        from autograder.spec import load_spec, select

        return float(sum(q.points for q in select(load_spec(self.spec_path), chosen=self.questions or ())))

    @classmethod
    def chosen(cls, slug: str | None = None) -> "Assignment":
        """The assignment ``slug`` names, or without one the first (by creation).

        Raises
        ------
        Assignment.DoesNotExist
            With a message naming the slug and the course's assignments (or saying there is none).
        """
        assignments = cls.objects.order_by("id")
        found = assignments.filter(slug=slug).first() if slug else assignments.first()
        if found is None:
            slugs = ", ".join(assignments.values_list("slug", flat=True))
            raise cls.DoesNotExist(f"no assignment {slug!r}; this course has: {slugs}" if slug and slugs
                                   else "the course has no assignment yet")
        return found

    def __str__(self):
        return self.title


class Student(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    student_id = models.CharField("id", max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    token_revoked = models.BooleanField(default=False)

    def issue_token(self) -> str:
        """A new token (the old one stops working); returned once, stored hashed."""
        token = new_token()
        self.token_hash, self.token_revoked = hash_token(token), False
        self.save(update_fields=["token_hash", "token_revoked"])
        return token

    @classmethod
    def by_token(cls, token: str) -> "Student | None":
        if not token:
            return None
        return cls.objects.filter(token_hash=hash_token(token), token_revoked=False).select_related("user").first()

    def __str__(self):
        return f"{self.student_id} ({self.name})" if self.name else self.student_id


class Extension(models.Model):
    student = models.ForeignKey(Student, on_delete=models.CASCADE)
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE)
    until = models.DateTimeField(help_text="this student's deadline for this assignment")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["student", "assignment"], name="one_extension")]

    def clean(self):
        if self.assignment_id and self.assignment.deadline and self.until <= self.assignment.deadline:
            raise ValidationError({"until": "an extension must end after the assignment's deadline"})


class Submission(models.Model):
    class Kind(models.TextChoices):
        GRADE = "grade", "hidden grading"
        CHECK = "check", "public check"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        GRADED = "graded"
        FAILED = "failed"
        REPLACED = "replaced"

    student = models.ForeignKey(Student, on_delete=models.CASCADE)
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE)
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.GRADE)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    sha256 = models.CharField(max_length=64)
    blob = models.CharField(max_length=200, help_text="the stored upload, relative to the data folder")
    filename = models.CharField(max_length=255)
    questions = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    late_days = models.PositiveIntegerField(default=0)
    raw_score = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True, help_text="after the late penalty")
    max_score = models.FloatField(null=True, blank=True)
    student_result = models.JSONField(null=True, blank=True, help_text="what the student sees (disclosure applied)")
    feedback_html = models.TextField(blank=True)
    report_md = models.TextField(blank=True)
    grading_json = models.TextField(blank=True, help_text="the full result (staff only)")
    error = models.TextField(blank=True)
    # the phases: received (the upload began to be read), queued (``created``: stored and queued),
    # started (a grader claimed it), first result (its first question was graded), finished
    received = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    first_result = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    rescored = models.DateTimeField(null=True, blank=True, help_text="last changed by serve rescore")

    class Meta:
        indexes = [models.Index(fields=["student", "assignment", "kind", "status"])]

    def phases(self) -> dict[str, float | None]:
        """Seconds from receipt to each phase (None: not reached)."""
        start = self.received or self.created
        return {name: None if when is None else round((when - start).total_seconds(), 3)
                for name, when in (("queued", self.created), ("started", self.started),
                                   ("first_result", self.first_result), ("finished", self.finished))}

    def __str__(self):
        return f"#{self.pk} {self.student.student_id} {self.kind} {self.status}"


class Job(models.Model):
    """One grading to do. A dispatcher claims it with a lease (``lease_token``, ``lease_until``) and
    renews the lease while it grades; a lease that runs out (a killed grader) makes the job claimable
    again, up to ``max_attempts``. Only the lease's holder can store the result."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        REPLACED = "replaced"

    PRIORITY = {Submission.Kind.CHECK: 0, Submission.Kind.GRADE: 10}  # checks first

    submission = models.OneToOneField(Submission, on_delete=models.CASCADE)
    priority = models.SmallIntegerField(default=10)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3, validators=[MinValueValidator(1)])
    lease_token = models.CharField(max_length=32, null=True, blank=True, unique=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "priority", "id"])]

    def __str__(self):
        return f"job {self.pk} ({self.status}, attempt {self.attempts})"


class QuestionProgress(models.Model):
    """One question's result as the grader reported it, before the submission is finished: what
    the student may see of it (``questions.toml``'s disclosure applied). The page and ``submit``
    stream these; the final feedback replaces them."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="progress")
    seq = models.PositiveIntegerField()
    question = models.JSONField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["submission", "seq"], name="one_progress_seq")]
