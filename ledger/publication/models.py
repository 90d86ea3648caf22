"""Notices (公示), their sections and their frozen publications.

A ``Notice`` is composed by a supervisor (title, issuer, date, document number, ordered
``Section`` rows, annex rounds, masking terms), previewed, and published. Publishing writes
one ``Publication``: the frozen snapshot of everything the public sees, the page rendered
from it, its PDF and its Excel annex with their SHA-256. A published notice, its sections
and its publication are never changed again (``save()`` refuses); a correction is a new
version whose ``replaces`` points at the one it corrects.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ledger.models import Category, Department, Job, Round


class FrozenError(ValidationError):
    """A change to a published notice, its sections or its publication."""


class Notice(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHING = "publishing", _("Publishing")
        PUBLISHED = "published", _("Published")
        FAILED = "failed", _("Publishing failed")

    EDITABLE_STATES = (State.DRAFT, State.FAILED)

    title = models.CharField(_("title"), max_length=200)
    issuer = models.CharField(
        _("issued by"), max_length=100, help_text=_("e.g. 玉林市委市政府督查和绩效考评办公室")
    )
    date = models.DateField(_("date"), default=timezone.localdate)
    document_number = models.CharField(
        _("document number"), max_length=100, blank=True, help_text=_("e.g. 桂绩办发〔2020〕6号")
    )
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.DRAFT)
    # Masking for this notice: extra words shown as ****, and originals lifted from masking.
    terms = models.JSONField(_("masked terms"), default=list, blank=True)
    keep = models.JSONField(_("lifted from masking"), default=list, blank=True)
    # Possible names (docs/masking.md) the supervisor decided on in the preview: confirmed
    # ones are masked as names wherever they occur, dismissed ones are shown as they are.
    # One not decided is masked.
    confirmed_names = models.JSONField(_("confirmed names"), default=list, blank=True)
    dismissed_names = models.JSONField(_("possible names kept"), default=list, blank=True)
    annex_rounds = models.ManyToManyField(
        Round, verbose_name=_("annex rounds"), blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )
    job = models.ForeignKey(
        Job,
        verbose_name=_("publishing job"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    error = models.TextField(_("why publishing failed"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["draft", "publishing", "published", "failed"]),
                name="notice_state_valid",
            ),
            # One correction of a notice at a time: a second draft would fork its history.
            models.UniqueConstraint(fields=["replaces"], name="notice_one_correction"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            stored = Notice.objects.filter(pk=self.pk).values_list("state", flat=True).first()
            if stored == self.State.PUBLISHED:
                raise FrozenError(_("A published notice cannot be changed."))
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("publication:edit", args=[self.pk])

    def delete(self, *args, **kwargs):
        if Notice.objects.filter(pk=self.pk, state=self.State.PUBLISHED).exists():
            raise FrozenError(_("A published notice cannot be deleted."))
        return super().delete(*args, **kwargs)

    @property
    def editable(self) -> bool:
        return self.state in self.EDITABLE_STATES

    def public_url(self) -> str:
        return reverse("publication:public", args=[self.pk])

    @property
    def replaced_by(self) -> Notice | None:
        """The published correction of this notice, if any."""
        return self.corrections.filter(state=self.State.PUBLISHED).first()


class Section(models.Model):
    """One part of a notice: a heading (一、基本情况) and a body in the small markup of
    ``ledger.publication.markup``, with figures drawn from the ledger for its scope."""

    notice = models.ForeignKey(
        Notice, verbose_name=_("notice"), on_delete=models.CASCADE, related_name="sections"
    )
    order = models.PositiveIntegerField(_("order"), default=0)
    heading = models.CharField(_("heading"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    round = models.ForeignKey(
        Round,
        verbose_name=_("figures for round"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("figures for category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("figures for department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["notice_id", "order", "pk"]
        verbose_name = _("section")
        verbose_name_plural = _("sections")

    def __str__(self) -> str:
        return self.heading or self.body[:30]

    def save(self, *args, **kwargs) -> None:
        self._check_editable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._check_editable()
        return super().delete(*args, **kwargs)

    def _check_editable(self) -> None:
        if (
            Notice.objects.filter(pk=self.notice_id)
            .exclude(state__in=Notice.EDITABLE_STATES)
            .exists()
        ):
            raise FrozenError(_("The sections of a published notice cannot be changed."))


def publication_path(publication: Publication, filename: str) -> str:
    return f"notices/{publication.notice_id}/{filename}"


class Publication(models.Model):
    """The frozen output of a notice: written once by the publishing task, never updated."""

    notice = models.OneToOneField(
        Notice, verbose_name=_("notice"), on_delete=models.PROTECT, related_name="publication"
    )
    html = models.TextField(_("page"))
    html_sha256 = models.CharField(_("page SHA-256"), max_length=64)
    pdf = models.FileField(_("PDF"), upload_to=publication_path)
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64)
    pdf_size = models.PositiveBigIntegerField(_("PDF size"))
    xlsx = models.FileField(_("Excel annex"), upload_to=publication_path)
    xlsx_sha256 = models.CharField(_("Excel SHA-256"), max_length=64)
    xlsx_size = models.PositiveBigIntegerField(_("Excel size"))
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Last column on purpose: SQLite reads a row's columns in order, and the page (served
    # on every request) must not sit behind a megabyte of snapshot overflow pages.
    snapshot = models.JSONField(_("snapshot"))

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("publication")
        verbose_name_plural = _("publications")

    def __str__(self) -> str:
        return f"{self.notice_id} {self.published_at:%Y-%m-%d}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise FrozenError(_("A publication is never changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenError(_("A publication is never deleted."))


class PublishedAnnex(models.Model):
    """One annex table of a publication as its own frozen page: the notice page stays small
    (and fast) however many items the annexes hold."""

    publication = models.ForeignKey(
        Publication,
        verbose_name=_("publication"),
        on_delete=models.PROTECT,
        related_name="annex_pages",
    )
    number = models.PositiveSmallIntegerField(_("number"))
    html = models.TextField(_("page"))
    html_sha256 = models.CharField(_("page SHA-256"), max_length=64)

    class Meta:
        ordering = ["publication_id", "number"]
        verbose_name = _("published annex")
        verbose_name_plural = _("published annexes")
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "number"], name="published_annex_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.publication_id} {self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise FrozenError(_("A publication is never changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenError(_("A publication is never deleted."))
