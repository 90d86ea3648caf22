"""The ledger: rounds of feedback, the items they were consolidated into, and their history.

The words are the offices' own (docs/workflow.md): a ``Round`` (评价批次) brings
``Suggestion`` rows (意见建议) that are consolidated into ``Item`` rows (整改事项); an item is
assigned, progresses, and is closed out (销号). Every change of an item's state is made by
``ledger.workflow`` and recorded as an ``Event``.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Items without a deadline (long-term ones) sort after every dated one.
FAR_FUTURE = datetime.date(9999, 12, 31)


def deadline_key() -> Coalesce:
    """The deadline as the list sorts by it: none sorts after every date. The far date is a
    literal, not a parameter, so that the list's query holds the very expression its index
    was built on (SQLite matches an index on an expression only to the same expression,
    and a bound parameter is never the same)."""
    far = RawSQL(f"'{FAR_FUTURE.isoformat()}'", (), output_field=models.DateField())
    return Coalesce("deadline", far, output_field=models.DateField())


def due_soon_limit(today: datetime.date) -> datetime.date:
    """The last deadline the yellow light is on for: ``DUE_SOON_DAYS`` working days on."""
    from .supervision.workdays import due_soon_limit as limit

    return limit(today)


class RobotKind(models.TextChoices):
    WECOM = "wecom", _("WeCom (企业微信)")
    DINGTALK = "dingtalk", _("DingTalk (钉钉)")


class Department(models.Model):
    """A unit (部门/单位) that leads or shares items; every official belongs to one."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    email = models.EmailField(_("email for notices"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    # The department's group robot (企业微信 or 钉钉): notices go there too, sent by the worker
    # (ledger/supervision/robots.py). The secret is 钉钉's signing secret.
    robot_kind = models.CharField(
        _("group robot"), max_length=10, choices=RobotKind.choices, blank=True
    )
    robot_url = models.URLField(_("robot webhook address"), max_length=500, blank=True)
    robot_secret = models.CharField(_("robot signing secret"), max_length=200, blank=True)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class Leader(models.Model):
    """A city leader (市级领导) who answers for items: a name and a post."""

    name = models.CharField(_("name"), max_length=50)
    post = models.CharField(_("post"), max_length=100, help_text=_("e.g. 常务副市长"))
    term_start = models.DateField(_("term starts"), null=True, blank=True)
    term_end = models.DateField(_("term ends"), null=True, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("leader")
        verbose_name_plural = _("leaders")
        constraints = [
            models.UniqueConstraint(fields=["name", "post"], name="leader_name_post_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.post} {self.name}"


class User(AbstractUser):
    """A person who signs in. The role says what they see and may do
    (docs/administration.md)."""

    class Role(models.TextChoices):
        SUPERVISOR = "supervisor", _("Supervisor")
        OFFICIAL = "official", _("Department official")
        LEADER = "leader", _("Leader")
        # Accounts and reference data, no part in the workflow (docs/administration.md).
        ADMINISTRATOR = "administrator", _("Administrator")
        # Reads the audit trail and nothing else (三员: docs/audit.md).
        AUDITOR = "auditor", _("Auditor")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    leader = models.OneToOneField(
        Leader,
        verbose_name=_("leader"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="user",
        help_text=_("For a leader's account: the leader it signs in as."),
    )
    # Set when an administrator gives out a one-time password: the next sign-in leads to
    # the password page and nowhere else until the person has chosen their own.
    must_change_password = models.BooleanField(_("must change password"), default=False)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="official") | Q(department__isnull=False),
                name="user_official_has_department",
                violation_error_message=_("A department official needs a department."),
            ),
            models.CheckConstraint(
                condition=~Q(role="leader") | Q(leader__isnull=False),
                name="user_leader_has_leader",
                violation_error_message=_("A leader's account needs the leader it signs in as."),
            ),
        ]

    @property
    def is_supervisor(self) -> bool:
        return self.is_active and self.role == self.Role.SUPERVISOR

    @property
    def is_administrator(self) -> bool:
        """Accounts and reference data. A superuser made by ``createsuperuser`` is one too,
        and like every administrator sees no item (三员: docs/administration.md)."""
        return self.is_active and (self.role == self.Role.ADMINISTRATOR or self.is_superuser)

    @property
    def is_auditor(self) -> bool:
        """Reads the audit trail, and nothing else: no item, no account. Nobody else reads
        it, administrators and superusers included."""
        return self.is_active and self.role == self.Role.AUDITOR and not self.is_superuser

    @property
    def is_official(self) -> bool:
        return self.is_active and self.role == self.Role.OFFICIAL and self.department_id is not None

    @property
    def is_leader(self) -> bool:
        return self.is_active and self.role == self.Role.LEADER and self.leader_id is not None

    @property
    def works_on_items(self) -> bool:
        """A supervisor, official or leader: someone the ledger's pages are for."""
        return self.is_supervisor or self.is_official or self.is_leader

    def display_name(self) -> str:
        return self.get_full_name() or self.username


class Round(models.Model):
    """A batch of feedback (评价批次) sent by a higher office, e.g. 2019年度 or 2020年中期."""

    class Kind(models.TextChoices):
        ANNUAL = "annual", _("Annual")
        MIDYEAR = "midyear", _("Mid-year")

    name = models.CharField(_("name"), max_length=100, unique=True, help_text=_("e.g. 2019年度"))
    code = models.SlugField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("Prefix of item numbers, e.g. 2019 gives 2019-0001."),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    document_number = models.CharField(
        _("document number"), max_length=100, blank=True, help_text=_("e.g. 桂绩办发〔2020〕6号")
    )
    source = models.CharField(_("sent by"), max_length=100, blank=True)
    received_on = models.DateField(_("received on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-year", "kind", "name"]
        verbose_name = _("round")
        verbose_name_plural = _("rounds")

    def __str__(self) -> str:
        return self.name

    def start_categories(self) -> list[Category]:
        """Give a new round the categories of the round before it, in their order, or the
        six the published notices name when it is the first (docs/administration.md)."""
        before = (
            Round.objects.exclude(pk=self.pk)
            .filter(categories__isnull=False)
            .order_by("-year", "-created_at", "-pk")
            .first()
        )
        if before is not None:
            names = [c.name for c in before.categories.order_by("order", "name")]
        else:
            names = list(DEFAULT_CATEGORIES)
        return Category.objects.bulk_create(
            Category(round=self, name=name, order=(n + 1) * 10) for n, name in enumerate(names)
        )


# The six fields (类别) a city's published notice sorts its feedback into.
DEFAULT_CATEGORIES = ("经济发展", "教育事业", "社会保障", "交通建设", "环境保护", "社会治安")


class Category(models.Model):
    """A field of feedback (类别), configurable per round and ordered."""

    round = models.ForeignKey(
        Round, verbose_name=_("round"), on_delete=models.CASCADE, related_name="categories"
    )
    name = models.CharField(_("name"), max_length=50)
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["round_id", "order", "name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(
                fields=["round", "name"], name="category_name_unique_per_round"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def overdue_condition(today: datetime.date | None = None) -> Q:
    """Overdue (逾期): in a department's hands, and the deadline has passed."""
    return Q(state__in=Item.OPEN_STATES, deadline__lt=today or timezone.localdate())


def is_overdue(state: str, deadline: datetime.date | None, today: datetime.date) -> bool:
    """``overdue_condition`` for one item's state and deadline, in Python."""
    return state in Item.OPEN_STATES and deadline is not None and deadline < today


def due_within_condition(days: int, today: datetime.date | None = None) -> Q:
    """Falling due (临期): in a department's hands, the deadline within ``days`` working days
    from today."""
    from .supervision.workdays import calendar

    today = today or timezone.localdate()
    return Q(
        state__in=Item.OPEN_STATES,
        deadline__gte=today,
        deadline__lte=calendar().add(today, days),
    )


class ItemQuerySet(models.QuerySet["Item"]):
    def visible_to(self, user) -> ItemQuerySet:
        """The one answer to "which items may this user see" (docs/administration.md, roles).

        Views, exports and the workflow all start from here, so an item outside a user's
        reach is simply not found (404), never shown and then refused.
        """
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_supervisor:
            return self.all()
        # A draft is the evaluation office's own work in hand: a department or leader sees
        # an item from the moment it is assigned to them (交办), not while it is prepared.
        handed_over = self.exclude(state=Item.State.DRAFT)
        if user.is_official:
            # EXISTS rather than a join, so an item is never listed twice and no DISTINCT
            # is needed over the whole ledger.
            shares = Item.co_departments.through.objects.filter(
                item_id=OuterRef("pk"), department_id=user.department_id
            )
            return handed_over.filter(Q(lead_department_id=user.department_id) | Exists(shares))
        if user.is_leader:
            return handed_over.filter(leader_id=user.leader_id)
        return self.none()

    def open(self) -> ItemQuerySet:
        """Items in a department's hands: assigned and not yet closed out."""
        return self.filter(state__in=Item.OPEN_STATES)

    def overdue(self, today: datetime.date | None = None) -> ItemQuerySet:
        """Deadline passed and not closed out. Derived on every query, never stored.

        A draft is nobody's to be late with: it counts from its assignment on."""
        return self.filter(overdue_condition(today))

    def due_within(self, days: int, today: datetime.date | None = None) -> ItemQuerySet:
        return self.filter(due_within_condition(days, today))


class AllItemsManager(models.Manager.from_queryset(ItemQuerySet)):
    """Every item, withdrawn ones (作废) included: for the few places that read an item
    whatever became of it, its own page and history above all.

    Items come without their search text (``Item.search``), which can run to many
    suggestions' words: no page shows it, and an item loaded without it saves only the
    fields it loaded, so no save can write back a copy the triggers have since replaced."""

    def get_queryset(self) -> ItemQuerySet:
        return super().get_queryset().defer("search")


class ItemManager(AllItemsManager):
    """The items that count: a withdrawn item (created by mistake, or merged into another)
    is in no list, count, export or notice. The default manager, so that nothing has to
    remember to leave them out (docs/corrections.md)."""

    def get_queryset(self) -> ItemQuerySet:
        return super().get_queryset().exclude(state=Item.State.WITHDRAWN)


class Item(models.Model):
    """An item of the ledger (整改事项/台账条目): the unit that moves through the workflow."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Awaiting assignment")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        REQUESTED = "requested", _("Close-out requested")
        CLOSED = "closed", _("Closed out")
        # 作废: created by mistake, or merged into another item. Kept with its history.
        WITHDRAWN = "withdrawn", pgettext_lazy("item state", "Withdrawn")

    class Track(models.TextChoices):
        IMMEDIATE = "immediate", _("Fix at once (立行立改)")
        JOINT = "joint", _("Joint action (集中治理)")

    class OutcomeKind(models.TextChoices):
        DONE = "done", _("Done")
        LONG_TERM = "long_term", _("Partly done, kept up long-term")

    class Satisfaction(models.TextChoices):
        SATISFIED = "satisfied", _("Satisfied (满意)")
        BASIC = "basic", _("Mostly satisfied (基本满意)")
        UNSATISFIED = "unsatisfied", _("Not satisfied (不满意)")

    class LadderStep(models.TextChoices):
        REMIND = "remind", _("Reminder (临近提醒)")
        URGE = "urge", _("Urged (催办)")
        ESCALATE = "escalate", _("Escalated (挂牌督办)")
        CIRCULATE = "circulate", _("Circulated (通报)")

    OPEN_STATES = (State.ASSIGNED, State.IN_PROGRESS, State.REQUESTED)
    # The states an item that counts can be in: all but withdrawn.
    LIVE_STATES = (State.DRAFT, *OPEN_STATES, State.CLOSED)

    round = models.ForeignKey(
        Round, verbose_name=_("round"), on_delete=models.PROTECT, related_name="items"
    )
    number = models.CharField(_("number"), max_length=32)
    # The number a ledger file gave the item when it could not be kept as the item's own
    # (taken, repeated, or not in the round's numbering): kept so both can be found.
    reference = models.CharField(_("number as imported"), max_length=32, blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="items",
    )
    title = models.CharField(_("problem"), max_length=300)
    track = models.CharField(
        _("track"), max_length=10, choices=Track.choices, default=Track.IMMEDIATE
    )
    leader = models.ForeignKey(
        Leader,
        verbose_name=_("responsible leader"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="items",
    )
    responsible_person = models.CharField(_("responsible person"), max_length=100, blank=True)
    lead_department = models.ForeignKey(
        Department,
        verbose_name=_("lead department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="led_items",
    )
    co_departments = models.ManyToManyField(
        Department,
        verbose_name=_("co-responsible departments"),
        blank=True,
        related_name="shared_items",
        through="CoDepartment",
        through_fields=("item", "department"),
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    # 长期坚持: kept up with no end date. Such an item has no deadline and is never overdue.
    long_term = models.BooleanField(
        _("long-term (no end date)"),
        default=False,
        help_text=_("长期坚持: the work goes on with no deadline."),
    )
    original_deadline = models.DateField(
        _("original deadline"),
        null=True,
        blank=True,
        help_text=_("The deadline first assigned, kept when an extension is granted."),
    )
    measures = models.TextField(_("measures"), blank=True)
    goal = models.TextField(_("goal"), blank=True)
    remarks = models.TextField(_("remarks"), blank=True)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.DRAFT)
    percent = models.PositiveSmallIntegerField(_("percent done"), default=0)
    outcome = models.TextField(_("outcome"), blank=True)
    outcome_kind = models.CharField(
        _("outcome kind"), max_length=10, choices=OutcomeKind.choices, blank=True
    )
    closed_on = models.DateField(_("closed out on"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed out by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Escalation (挂牌督办) is an event, not a state; this is when the last one was made,
    # kept on the row so that lists can filter on it without reading the history.
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # The highest step of the escalation ladder confirmed for the item (ledger/supervision),
    # kept on the row for the list's filter and column as escalated_at is.
    ladder_step = models.CharField(
        _("ladder step"), max_length=10, choices=LadderStep.choices, blank=True, default=""
    )
    # The newest rating of the phone review (专项评议), kept on the row likewise.
    satisfaction = models.CharField(
        _("satisfaction"), max_length=12, choices=Satisfaction.choices, blank=True, default=""
    )
    # Where a withdrawn item's suggestions and progress went when it was merged (合并).
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_items",
    )
    # Bumped by every change: a form carries the version it was drawn from, and a change
    # made against an older one is refused instead of silently overwriting another's work.
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    # What the keyword searches: the number, the problem and the texts of the suggestions
    # merged into the item, one per line. Written by database triggers alone
    # (ledger/triggers.py), on every write of the item or its suggestions, whoever makes it.
    search = models.TextField(_("search text"), blank=True, default="", editable=False)

    objects = ItemManager()
    all_objects = AllItemsManager()

    class Meta:
        # By the column, not the relation: ordering by "round" would join ledger_round
        # into every query over items (counts and GROUP BYs included) to sort by its name.
        ordering = ["round_id", "number"]
        verbose_name = _("item")
        verbose_name_plural = _("items")
        constraints = [
            models.UniqueConstraint(
                fields=["round", "number"], name="item_number_unique_per_round"
            ),
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100), name="item_percent_0_100"
            ),
            models.CheckConstraint(
                condition=Q(
                    state__in=[
                        "draft",
                        "assigned",
                        "in_progress",
                        "requested",
                        "closed",
                        "withdrawn",
                    ]
                ),
                name="item_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(outcome_kind__in=["", "done", "long_term"]),
                name="item_outcome_kind_valid",
            ),
            # Closed out means someone approved it, on a day, as done or long-term.
            models.CheckConstraint(
                condition=~Q(state="closed") | (Q(closed_on__isnull=False) & ~Q(outcome_kind="")),
                name="item_closed_has_date_and_outcome",
            ),
            models.CheckConstraint(
                condition=Q(long_term=False) | Q(deadline__isnull=True),
                name="item_long_term_has_no_deadline",
            ),
        ]
        indexes = [
            # The deadline light and the overdue filter: open items by deadline.
            models.Index(fields=["state", "deadline"], name="item_state_deadline"),
            # An official's ledger: their department's items.
            # With the deadline: a department's counts per state and its overdue and
            # falling-due lists read this index alone.
            models.Index(
                fields=["lead_department", "state", "deadline"], name="item_lead_state_deadline"
            ),
            models.Index(fields=["leader", "state"], name="item_leader_state"),
            # The list's ladder filter: the items at a step, few among many.
            models.Index(
                fields=["ladder_step", "state"],
                condition=~Q(ladder_step=""),
                name="item_ladder_step",
            ),
            # The supervision dashboard: every column its figures read, in the order of
            # its one GROUP BY (supervision.dashboard._grouped), so that the grouping is one
            # walk of this index, without a sort or a read of the wide rows. The id last:
            # an official's reach is tested on it (PostgreSQL's index-only scans).
            models.Index(
                fields=[
                    "category",
                    "lead_department",
                    "leader",
                    "round",
                    "state",
                    "deadline",
                    "percent",
                    "track",
                    "ladder_step",
                    "closed_on",
                    "id",
                ],
                name="item_dashboard",
            ),
            # An official's list in its default order: the led part of a page is read from
            # here (selectors.Ledger.parts), the first rows without sorting the rest. A
            # keyword within a department's round ANDs it with the trigram index. (The id
            # served a lookup since replaced by Item.search.)
            models.Index(
                fields=["lead_department", "round", "number", "id"],
                name="item_lead_round_number",
            ),
            # A state's items in each of the list's orders (selectors.SORTS), each ending
            # in the id as the sort does, for all items and for an official's led part: a
            # page, first, last or in the middle, is a range of one of these, and a list of
            # every state merges one range per state (selectors.ledger_items). The state
            # leads because it is the list's tabs, and because it goes with the orders:
            # closed items are at 100% and mostly in old rounds, so walking an order's own
            # index for one state's items read most of the ledger (closed by percent: 770
            # ms at a million items); with no index, sorting them by deadline took 320 ms.
            models.Index(F("state"), deadline_key(), F("id"), name="item_state_deadline_key"),
            models.Index(fields=["state", "percent", "id"], name="item_state_percent"),
            models.Index(fields=["state", "updated_at", "id"], name="item_state_updated"),
            models.Index(fields=["state", "round", "number"], name="item_state_number"),
            models.Index(
                F("lead_department"),
                F("state"),
                deadline_key(),
                F("id"),
                name="item_lead_state_deadline_key",
            ),
            models.Index(
                fields=["lead_department", "state", "percent", "id"], name="item_lead_state_percent"
            ),
            models.Index(
                fields=["lead_department", "state", "updated_at", "id"],
                name="item_lead_state_updated",
            ),
            models.Index(
                fields=["lead_department", "state", "round", "number", "id"],
                name="item_lead_state_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return is_overdue(self.state, self.deadline, today or timezone.localdate())

    def light(self, today: datetime.date | None = None) -> str:
        """The deadline light (红黄绿灯): "red", "yellow", "green", or "" when none applies."""
        if self.state not in self.OPEN_STATES or self.deadline is None:
            return ""
        today = today or timezone.localdate()
        if self.deadline < today:
            return "red"
        if self.deadline <= due_soon_limit(today):
            return "yellow"
        return "green"

    def days_overdue(self, today: datetime.date | None = None) -> int:
        """Working days past the deadline (0 on the deadline day itself)."""
        if not self.is_overdue(today):
            return 0
        from .supervision.workdays import calendar

        return calendar().between(self.deadline, today or timezone.localdate())


class CoDepartment(models.Model):
    """A co-responsible department (配合单位) of an item.

    It carries a copy of its item's state, deadline and lead department, so that an
    official's counts of the items shared with their department read one index,
    (department, state, deadline), instead of visiting every shared item. Database triggers
    (migration 0007) keep the copy in step with the item on every write, whatever makes it:
    the workflow, an import, a bulk load or a hand-written UPDATE. Nothing in Python writes
    these three columns.
    """

    # The table was made by a ManyToManyField, with an int key: kept as it is.
    id = models.AutoField(primary_key=True)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="shares")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="shares")
    # A default in the database too: rows inserted by raw SQL (a bulk load) name only the
    # item and the department, and the trigger fills in the rest.
    state = models.CharField(max_length=20, choices=Item.State.choices, db_default=Item.State.DRAFT)
    deadline = models.DateField(null=True, blank=True)
    lead_department = models.ForeignKey(
        Department,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        db_table = "ledger_item_co_departments"
        unique_together = [("item", "department")]
        verbose_name = _("co-responsible department")
        verbose_name_plural = _("co-responsible departments")
        indexes = [
            # Every column the counts read, so that each count is an index-only scan.
            models.Index(
                fields=["department", "state", "deadline", "lead_department"],
                name="codepartment_counts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.department_id}"


class Suggestion(models.Model):
    """One suggestion (意见建议) exactly as received. Never dropped: after consolidation it
    stays attached to the item it was merged into."""

    round = models.ForeignKey(
        Round, verbose_name=_("round"), on_delete=models.PROTECT, related_name="suggestions"
    )
    seq = models.PositiveIntegerField(_("number as received"))
    text = models.TextField(_("text"))
    category_text = models.CharField(_("category as received"), max_length=50, blank=True)
    region = models.CharField(_("region"), max_length=50, blank=True)
    channel = models.CharField(_("channel"), max_length=50, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    # The round's category the supervisor mapped ``category_text`` to at import, when the
    # text as received is not itself the name of one (docs/intake.md).
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="suggestions",
    )
    item = models.ForeignKey(
        Item,
        verbose_name=_("item"),
        # PROTECT: an item that still holds suggestions cannot be deleted and take them along.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="suggestions",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["round_id", "seq"]
        verbose_name = _("suggestion")
        verbose_name_plural = _("suggestions")
        constraints = [
            models.UniqueConstraint(
                fields=["round", "seq"], name="suggestion_seq_unique_per_round"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seq}. {self.text[:40]}"


class ConsolidationProposal(models.Model):
    """A round's proposed groups at one threshold, for the waiting suggestions they were made
    from (``key``: their fingerprint and the threshold). Grouping a large round takes longer
    than a request may, so it is made in the background (``job``) and kept here, where every
    page and every host reads it; ``groups`` is empty while it is being made."""

    round = models.ForeignKey(Round, verbose_name=_("round"), on_delete=models.CASCADE)
    key = models.CharField(_("key"), max_length=100)
    groups = models.JSONField(_("groups"), null=True, blank=True)
    # Suggestion id (as text: JSON keys are strings) → id of the item it repeats.
    repeats = models.JSONField(_("repeats"), default=dict, blank=True)
    job = models.ForeignKey(
        "Job", verbose_name=_("job"), on_delete=models.SET_NULL, null=True, blank=True
    )
    made_at = models.DateTimeField(_("made at"), default=timezone.now)

    class Meta:
        verbose_name = _("consolidation proposal")
        verbose_name_plural = _("consolidation proposals")
        constraints = [
            models.UniqueConstraint(fields=["round", "key"], name="proposal_one_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.round_id} {self.key}"


class ConsolidationChoice(models.Model):
    """How a round's supervisors want its suggestions grouped (docs/consolidation.md): how
    strict the proposal is, and the splits and merges replayed over it. One per round, so
    that every supervisor, the next visit and the whole-round job see the same groups."""

    round = models.OneToOneField(
        Round,
        verbose_name=_("round"),
        on_delete=models.CASCADE,
        related_name="consolidation_choice",
    )
    # Empty follows the proposal's default, so a round nobody tuned follows it when it
    # is retuned.
    threshold = models.FloatField(_("similarity threshold"), null=True, blank=True)
    # ``["split", id]`` and ``["merge", [id, …]]``, oldest first (consolidation.apply_operations).
    operations = models.JSONField(_("splits and merges"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("consolidation choice")
        verbose_name_plural = _("consolidation choices")
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__isnull=True) | Q(threshold__gte=0, threshold__lte=1),
                name="consolidation_threshold_0_1",
            ),
        ]

    def __str__(self) -> str:
        return str(self.round_id)


class Progress(models.Model):
    """A dated report of progress (整改进展) posted by a responsible department."""

    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="progress"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("posted by"), on_delete=models.PROTECT
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT
    )
    reported_on = models.DateField(_("date"))
    text = models.TextField(_("progress"))
    percent = models.PositiveSmallIntegerField(_("percent done"))
    created_at = models.DateTimeField(_("posted at"), default=timezone.now)

    class Meta:
        ordering = ["item_id", "created_at"]
        verbose_name = _("progress")
        verbose_name_plural = _("progress")
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100), name="progress_percent_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.number} {self.reported_on} {self.percent}%"


def evidence_path(evidence: Evidence, filename: str) -> str:
    # The stored name is ours, never the uploader's: no path tricks, no clashes.
    stem = timezone.now().strftime("%Y/%m")
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"evidence/{stem}/{evidence.sha256[:32]}.{suffix[:10]}"


class Evidence(models.Model):
    """A file that backs a progress report (佐证材料)."""

    progress = models.ForeignKey(
        Progress, verbose_name=_("progress"), on_delete=models.PROTECT, related_name="evidence"
    )
    file = models.FileField(_("file"), upload_to=evidence_path)
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("type"), max_length=100)
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        ordering = ["progress_id", "pk"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return self.name


class Extension(models.Model):
    """A request for a later deadline (延期), granted or refused by a supervisor."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        GRANTED = "granted", _("Granted")
        REFUSED = "refused", _("Refused")
        # The item was closed out or declined before anyone decided.
        WITHDRAWN = "withdrawn", _("Withdrawn")

    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="extensions"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    old_deadline = models.DateField(_("deadline before"), null=True, blank=True)
    new_deadline = models.DateField(_("deadline asked for"))
    # The deadline a supervisor granted: the one asked for, or another they chose.
    granted_deadline = models.DateField(_("deadline granted"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["requested_at"]
        verbose_name = _("extension")
        verbose_name_plural = _("extensions")
        constraints = [
            # One open request at a time per item: a second waits for the first decision.
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(status="pending"),
                name="extension_one_pending_per_item",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.number} → {self.new_deadline}"


class Event(models.Model):
    """One line of an item's history (状态流转记录): who did what, when, from which state to
    which. Append-only: written by ``ledger.workflow`` in the same transaction as the change."""

    class Kind(models.TextChoices):
        # "交办", the act; the state is "已交办" (same English word, another Chinese one).
        ASSIGN = "assign", pgettext_lazy("event", "Assigned")
        DECLINE = "decline", _("Declined")
        START = "start", _("Started")
        REQUEST = "request", _("Requested close-out")
        APPROVE = "approve", _("Approved close-out")
        RETURN = "return", _("Returned")
        EXTENSION_REQUEST = "extension_request", _("Asked for an extension")
        EXTENSION_GRANT = "extension_grant", _("Granted an extension")
        EXTENSION_REFUSE = "extension_refuse", _("Refused an extension")
        ESCALATE = "escalate", _("Escalated")
        COMMENT = "comment", _("Commented")
        CREATE = "create", pgettext_lazy("event", "Created")
        EDIT = "edit", _("Edited")
        REASSIGN = "reassign", _("Reassigned")
        MERGE = "merge", _("Merged another item into this one")
        WITHDRAW = "withdraw", pgettext_lazy("event", "Withdrawn")
        # The escalation ladder's steps other than 挂牌督办 (ESCALATE above).
        REMIND = "remind", _("Reminded of the deadline")
        URGE = "urge", _("Urged")
        CIRCULATE = "circulate", _("Circulated in a bulletin")
        RATE = "rate", _("Rated in the phone review")
        REOPEN = "reopen", _("Reopened")

    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    from_state = models.CharField(_("from"), max_length=20, choices=Item.State.choices)
    to_state = models.CharField(_("to"), max_length=20, choices=Item.State.choices)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["item_id", "at", "pk"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["item", "at"], name="event_item_at"),
            # The declined drafts awaiting reassignment (home, review queue): a handful of
            # rows among millions of events.
            models.Index(fields=["item"], condition=Q(kind="decline"), name="event_declines"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.kind} {self.from_state}→{self.to_state}"


class Notification(models.Model):
    """An in-app notice to one user that something happened to an item they answer for.

    Written by ``ledger.notifications`` in the same transaction as the transition that caused
    it, so a transition that is refused or rolled back leaves no notice behind."""

    class Kind(models.TextChoices):
        # The values are those of the Event kinds that cause a notification.
        ASSIGN = "assign", _("New assignment")
        RETURN = "return", _("Close-out request returned")
        APPROVE = "approve", _("Close-out approved")
        ESCALATE = "escalate", _("Escalated")
        REASSIGN = "reassign", _("Assignment changed")
        WITHDRAW = "withdraw", _("Item withdrawn")
        EXTENSION_GRANT = "extension_grant", _("Extension granted")
        EXTENSION_REFUSE = "extension_refuse", _("Extension refused")
        REMIND = "remind", _("Deadline near")
        URGE = "urge", _("Urged")
        CIRCULATE = "circulate", _("Circulated in a bulletin")
        REOPEN = "reopen", _("Reopened")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
        # Both indexes below lead with the recipient: a third one of its own would only
        # slow down the inserts that every transition makes.
        db_index=False,
    )
    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(
        Event,
        verbose_name=_("event"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "assign",
                        "return",
                        "approve",
                        "escalate",
                        "reassign",
                        "withdraw",
                        "extension_grant",
                        "extension_refuse",
                        "remind",
                        "urge",
                        "circulate",
                        "reopen",
                    ]
                ),
                name="notification_kind_valid",
            ),
        ]
        indexes = [
            # The unread count in the header of every page:
            # COUNT(*) WHERE recipient_id = %s AND read_at IS NULL, read from the index alone.
            models.Index(fields=["recipient", "read_at", "created_at"], name="notification_unread"),
            # The list page, newest first and paged by keyset on (created_at, id): an index
            # range scan from the cursor on, never a sort of the user's whole history.
            models.Index(fields=["recipient", "created_at", "id"], name="notification_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.kind} {self.item_id}"


class ReminderDigest(models.Model):
    """The record that a department's reminder digest (督办提醒) of one day was sent.

    ``send_reminders`` inserts this row before it sends, and the unique constraint lets only
    one run insert it: two runs on one day, even at the same moment, send one digest."""

    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        related_name="reminder_digests",
        db_index=False,  # the unique constraint below leads with it
    )
    day = models.DateField(_("day"))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    items = models.PositiveIntegerField(_("items listed"), default=0)

    class Meta:
        ordering = ["-day", "department_id"]
        verbose_name = _("reminder digest")
        verbose_name_plural = _("reminder digests")
        constraints = [
            models.UniqueConstraint(
                fields=["department", "day"], name="reminder_digest_one_per_department_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department_id} {self.day}"


class Job(models.Model):
    """Long work done in the background (an export, publishing a notice): its progress, its
    outcome, and the file it made. ``ledger.jobs`` runs it; the page ``/jobs/<id>/`` shows
    it to the person who started it."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Working")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=30)
    title = models.CharField(_("title"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        User,
        verbose_name=_("started by"),
        on_delete=models.CASCADE,
        related_name="jobs",
        null=True,
        blank=True,
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default="queued")
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    error = models.TextField(_("error"), blank=True)
    result_file = models.FileField(_("file"), upload_to="jobs/%Y/%m/", blank=True)
    result_name = models.CharField(_("file name"), max_length=200, blank=True)
    result_url = models.CharField(_("result"), max_length=500, blank=True)
    task_id = models.CharField(_("task"), max_length=64, blank=True)
    # What was queued, so that a failed job can be started again as it was (jobs.retry).
    task_path = models.CharField(_("task"), max_length=200, blank=True)
    task_kwargs = models.JSONField(_("task arguments"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["queued", "running", "done", "failed"]),
                name="job_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.kind

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("ledger:job", args=[self.pk])

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.done * 100 // self.total)

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


class WorkerHeartbeat(models.Model):
    """A background worker saying it is alive (``manage.py run_worker`` writes it every few
    seconds): work claimed by a worker that stopped beating is work a killed process left
    behind, and ``ledger.worker.recover`` finishes it visibly."""

    worker_id = models.CharField(_("worker"), max_length=64, unique=True)
    host = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("process"), default=0)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    beat_at = models.DateTimeField(_("last heartbeat"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return f"{self.worker_id} {self.beat_at:%Y-%m-%d %H:%M:%S}"


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditTrailError("The audit trail is append-only: its lines are never changed.")

    def delete(self):
        raise AuditTrailError("The audit trail is append-only: its lines are never deleted.")


class AuditTrailError(Exception):
    pass


class AuditEntry(models.Model):
    """One line of the audit trail (审计日志, docs/audit.md): who did what, when, from where.
    Written once by ``ledger.audit.record`` and never changed or deleted: the model and its
    queryset refuse it, and on PostgreSQL so does the database (a trigger). No foreign key:
    a line names its actor by id, user name and name as they were, so nothing that happens
    to an account later rewrites it."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
        SIGN_OUT = "sign_out", _("Signed out")
        LOCKED_OUT = "locked_out", _("Locked out")
        ACCOUNT = "account", _("Account and permissions")
        ITEM = "item", _("Item change")
        NOTICE = "notice", _("Notice edit")
        PUBLICATION = "publication", _("Publication")
        MASKING = "masking", _("Masking lifted or restored")
        EXPORT = "export", _("Export")
        DOWNLOAD = "download", _("Evidence download")
        CALENDAR = "calendar", _("Working-day calendar")
        LADDER = "ladder", _("Escalation ladder")
        SCORES = "scores", _("Department scores")

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor_id = models.PositiveIntegerField(_("account id"), null=True, blank=True)
    # For a failed sign-in, the user name as it was typed (cut to 150 characters).
    username = models.CharField(_("user name"), max_length=150, blank=True)
    actor_name = models.CharField(_("name"), max_length=150, blank=True)
    summary = models.CharField(_("what"), max_length=500)
    target = models.CharField(_("on"), max_length=200, blank=True)
    detail = models.JSONField(_("details"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit trail line")
        verbose_name_plural = _("audit trail")
        indexes = [
            models.Index(fields=["kind", "-at"], name="audit_kind_at"),
            models.Index(fields=["username", "-at"], name="audit_username_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.summary}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditTrailError("The audit trail is append-only: its lines are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailError("The audit trail is append-only: its lines are never deleted.")


# Notices (公示) and supervision live in their own modules and belong to this app:
# importing them here is what registers them.
from .publication import models as _publication_models  # noqa: E402, F401
from .supervision import models as _supervision_models  # noqa: E402, F401
