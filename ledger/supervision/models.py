"""The tables of supervision and evaluation (督办考评); docs/supervision.md explains each."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ledger.models import Department, Event, Item, Round


class CalendarDay(models.Model):
    """A day the administrator decides: a local holiday, a make-up workday (调休), or any
    day of a year whose official schedule the calendar library does not know yet. It wins
    over the library and over the weekend."""

    day = models.DateField(_("day"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["day"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")

    def __str__(self) -> str:
        return f"{self.day} {'workday' if self.is_workday else 'day off'}"


class ScheduleYear(models.Model):
    """The administrator's word that a year's official holiday schedule (国务院办公厅关于
    节假日安排的通知) is entered in the table: for years the library has no make-up
    workdays for."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), default=timezone.now)

    class Meta:
        ordering = ["year"]
        verbose_name = _("schedule entered")
        verbose_name_plural = _("schedules entered")

    def __str__(self) -> str:
        return str(self.year)


class LadderSettings(models.Model):
    """The escalation ladder's thresholds, in working days. Append-only: the newest row is
    in force, and the others say who changed what, when."""

    remind_before = models.PositiveSmallIntegerField(
        _("remind this many working days before the deadline"), default=3
    )
    urge_after = models.PositiveSmallIntegerField(
        _("urge (催办) after this many working days overdue"), default=1
    )
    escalate_after = models.PositiveSmallIntegerField(
        _("escalate (挂牌督办) after this many working days overdue"), default=10
    )
    escalate_days = models.PositiveSmallIntegerField(
        _("working days given by an escalation's new deadline"), default=10
    )
    circulate_after = models.PositiveSmallIntegerField(
        _("circulate (通报) after this many working days past the escalation's deadline"),
        default=1,
    )
    # The office printed at the head of each notice and in its signature.
    issuer = models.CharField(
        _("issuing office"),
        max_length=100,
        blank=True,
        help_text=_("e.g. 玉林市委市政府督查和绩效考评办公室"),
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    set_at = models.DateTimeField(_("set at"), default=timezone.now)

    class Meta:
        ordering = ["-set_at", "-pk"]
        get_latest_by = ["set_at", "pk"]
        verbose_name = _("ladder settings")
        verbose_name_plural = _("ladder settings")

    def __str__(self) -> str:
        return (
            f"{self.remind_before}/{self.urge_after}/{self.escalate_after}/"
            f"{self.escalate_days}/{self.circulate_after}"
        )

    @classmethod
    def current(cls) -> LadderSettings:
        """The thresholds in force: the newest row, or the defaults when none was set."""
        return cls.objects.order_by("-set_at", "-pk").first() or cls()


class SupervisionNotice(models.Model):
    """A numbered notice the ladder issues: 督办通知 (urging), 挂牌督办通知, 情况通报."""

    class Kind(models.TextChoices):
        URGE = "urge", _("Reminder notice (督办通知)")
        ESCALATE = "escalate", _("Escalation notice (挂牌督办通知)")
        CIRCULATE = "circulate", _("Bulletin (情况通报)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    seq = models.PositiveIntegerField(_("number in the year"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    # The office that signs it, as it was named on the day: a notice printed again reads
    # as it did when it was issued.
    issuer = models.CharField(_("issued by"), max_length=100, blank=True)
    # A bulletin names several departments; an urging or escalation notice one.
    departments = models.ManyToManyField(
        Department,
        verbose_name=_("departments"),
        blank=True,
        related_name="supervision_notices",
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        verbose_name = _("supervision notice")
        verbose_name_plural = _("supervision notices")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "year", "seq"], name="supervision_notice_number_unique"
            ),
        ]

    # The word of each kind's document number (文号): 督办〔2026〕3号.
    NUMBER_WORDS = {Kind.URGE: "督办", Kind.ESCALATE: "挂牌督办", Kind.CIRCULATE: "通报"}

    def __str__(self) -> str:
        return f"{self.title} {self.number}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("supervision:notice", args=[self.pk])

    @property
    def number(self) -> str:
        return f"{self.NUMBER_WORDS.get(self.kind, '')}〔{self.year}〕{self.seq}号"


class LadderStep(models.Model):
    """One step of the escalation ladder for one item: proposed by the daily command,
    confirmed or dismissed by a supervisor. A step is taken once per deadline: a new
    deadline (an extension, an escalation) starts the count again."""

    Step = Item.LadderStep

    class Status(models.TextChoices):
        PROPOSED = "proposed", pgettext_lazy("ladder step", "Proposed")
        CONFIRMED = "confirmed", pgettext_lazy("ladder step", "Confirmed")
        DISMISSED = "dismissed", pgettext_lazy("ladder step", "Dismissed")

    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.CASCADE, related_name="ladder_steps"
    )
    step = models.CharField(_("step"), max_length=10, choices=Step.choices)
    deadline = models.DateField(_("deadline counted from"))
    # Working days to the deadline (negative) or past it (positive) on the day proposed.
    working_days = models.IntegerField(_("working days past the deadline"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PROPOSED
    )
    proposed_on = models.DateField(_("proposed on"), default=timezone.localdate)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    event = models.ForeignKey(
        Event,
        verbose_name=_("event"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    notice = models.ForeignKey(
        SupervisionNotice,
        verbose_name=_("supervision notice"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="steps",
    )
    new_deadline = models.DateField(_("new deadline"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["-proposed_on", "item_id", "pk"]
        verbose_name = _("ladder step")
        verbose_name_plural = _("ladder steps")
        constraints = [
            models.UniqueConstraint(
                fields=["item", "step", "deadline"], name="ladder_step_once_per_deadline"
            ),
        ]
        indexes = [
            # The confirmation page: the proposed steps, a handful among many.
            models.Index(
                fields=["proposed_on", "step"],
                condition=Q(status="proposed"),
                name="ladder_step_proposed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.step} {self.status}"


class ReviewBatch(models.Model):
    """One imported sheet of the third-party phone review (专项评议)."""

    round = models.ForeignKey(
        Round,
        verbose_name=_("round"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    file_name = models.CharField(_("file name"), max_length=200)
    rows = models.PositiveIntegerField(_("ratings"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    imported_at = models.DateTimeField(_("imported at"), default=timezone.now)

    class Meta:
        ordering = ["-imported_at", "-pk"]
        verbose_name = _("phone review import")
        verbose_name_plural = _("phone review imports")

    def __str__(self) -> str:
        return self.file_name


class Rating(models.Model):
    """One item's rating in a phone review: the newest is the item's (``Item.satisfaction``)."""

    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.CASCADE, related_name="ratings"
    )
    batch = models.ForeignKey(
        ReviewBatch, verbose_name=_("import"), on_delete=models.CASCADE, related_name="ratings"
    )
    value = models.CharField(_("rating"), max_length=12, choices=Item.Satisfaction.choices)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["-batch_id", "item_id"]
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.UniqueConstraint(fields=["batch", "item"], name="rating_once_per_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.value}"


class ScoreWeights(models.Model):
    """The weights of the department score, as a supervisor set them. Append-only: the
    newest row is in force; a published score keeps a copy of the weights it used."""

    weights = models.JSONField(_("weights"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    set_at = models.DateTimeField(_("set at"), default=timezone.now)

    class Meta:
        ordering = ["-set_at", "-pk"]
        verbose_name = _("score weights")
        verbose_name_plural = _("score weights")

    def __str__(self) -> str:
        return f"{self.set_at:%Y-%m-%d %H:%M} {self.weights}"


class ScoreSheet(models.Model):
    """A round's department scores as published: the weights and every row are copied in,
    so that later changes to the ledger or the weights never rewrite it."""

    round = models.ForeignKey(
        Round, verbose_name=_("round"), on_delete=models.PROTECT, related_name="score_sheets"
    )
    weights = models.JSONField(_("weights"))
    weights_set_at = models.DateTimeField(_("weights set at"), null=True, blank=True)
    rows = models.JSONField(_("rows"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), default=timezone.now)

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("published scores")
        verbose_name_plural = _("published scores")

    def __str__(self) -> str:
        return f"{self.round_id} {self.published_at:%Y-%m-%d %H:%M}"


class RobotMessage(models.Model):
    """One message for a department's group robot (企业微信/钉钉), sent by the worker."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        related_name="robot_messages",
    )
    text = models.TextField(_("text"))
    # What the message tells of: event ids, so that a burst can be told as one digest.
    events = models.JSONField(_("events told"), default=list, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default="queued")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_try_at = models.DateTimeField(_("next try at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("robot message")
        verbose_name_plural = _("robot messages")
        indexes = [
            models.Index(
                fields=["next_try_at"], condition=Q(state="queued"), name="robot_message_queued"
            ),
            models.Index(fields=["department", "state", "created_at"], name="robot_message_dept"),
        ]

    def __str__(self) -> str:
        return f"{self.department_id} {self.state}"
