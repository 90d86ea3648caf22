"""``manage.py seed_demo``: the two rounds of the first seed, with a ledger in every state.

Builds 2019年度 (547 suggestions consolidated into 538 items) and 2020年中期 (447 into 443)
from the reference data in ``fixtures/demo.json``, moves every item through the real
workflow functions with backdated times, and prints one demo sign-in per role.

Texts are drawn from a ``random.Random`` with a fixed seed, so every run writes the same
suggestions; dates are laid out backwards from today, so that the deadline lights (红黄绿灯)
always show red, yellow and green items whenever the demo is built.

Running it again adds nothing: a round that already exists is left alone, and reference
rows and users are fetched before they are created.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ledger import workflow
from ledger.models import (
    Category,
    Department,
    Extension,
    Item,
    Leader,
    Round,
    Suggestion,
    User,
)

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
PASSWORD = "rectify-demo"
# The notice's date. Changing it rewrites every demo text, so leave it alone.
SEED = 20201231

SUPERVISOR_USERNAME = "duchayuan"
OFFICIAL_USERNAME = "jiaoyuju"
OFFICIAL_DEPARTMENT = "市教育局"
LEADER_USERNAME = "lingdao"
ADMINISTRATOR_USERNAME = "guanliyuan"
AUDITOR_USERNAME = "shenji"
LEADER_POST = "常务副市长"

State = Item.State
# Plain strings, not the enum members: they key dicts here, and a choices member hashes
# by its name ("DONE"), not by its value ("done").
DRAFT, ASSIGNED, IN_PROGRESS, REQUESTED, CLOSED = (
    State.DRAFT.value,
    State.ASSIGNED.value,
    State.IN_PROGRESS.value,
    State.REQUESTED.value,
    State.CLOSED.value,
)
DONE, LONG_TERM = Item.OutcomeKind.DONE.value, Item.OutcomeKind.LONG_TERM.value

DAY = datetime.timedelta(days=1)
HALF_WIDTH = str.maketrans("，。！？：；（）", ",.!?:;()")
SOCIAL_FIELDS = {"社会保障", "就业", "就医"}

Step = tuple[datetime.datetime, Callable[[datetime.datetime], object]]


def load_reference(path: Path = FIXTURE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


# --- Reference rows and users ---------------------------------------------------------------


@dataclasses.dataclass
class Cast:
    """Who is there to act: departments, leaders and the users that act for them."""

    departments: dict[str, Department]
    heads: dict[str, str]  # department name → its head's title, for 整改责任人
    leader_by_post: dict[str, Leader]  # only the posts held by one leader
    leader_of_department: dict[str, Leader]  # who oversees (分管) the department
    officials: dict[str, User]  # department name → the official who acts for it
    supervisor: User
    leader_user: User


def _user(username: str, defaults: dict[str, Any], password: str | None) -> User:
    user, created = User.objects.get_or_create(username=username, defaults=defaults)
    if created:
        # Only the printed sign-ins get a usable password; the other officials exist so
        # that each department's items are acted on by one of its own users.
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def ensure_cast(data: dict[str, Any]) -> Cast:
    departments: dict[str, Department] = {}
    heads: dict[str, str] = {}
    for order, spec in enumerate(data["departments"], start=1):
        dept, _ = Department.objects.get_or_create(name=spec["name"], defaults={"order": order})
        departments[spec["name"]] = dept
        heads[spec["name"]] = spec["head"]

    leader_by_post: dict[str, Leader] = {}
    leader_of_department: dict[str, Leader] = {}
    posts = [spec["post"] for spec in data["leaders"]]
    for order, spec in enumerate(data["leaders"], start=1):
        leader, _ = Leader.objects.get_or_create(
            name=spec["name"], post=spec["post"], defaults={"order": order}
        )
        if posts.count(spec["post"]) == 1:
            leader_by_post[spec["post"]] = leader
        for name in spec["departments"]:
            leader_of_department[name] = leader

    supervisor = _user(
        SUPERVISOR_USERNAME,
        {"role": User.Role.SUPERVISOR, "first_name": "督查员"},
        PASSWORD,
    )
    administrator = _user(
        ADMINISTRATOR_USERNAME,
        {"role": User.Role.ADMINISTRATOR, "first_name": "系统管理员"},
        PASSWORD,
    )
    auditor = _user(AUDITOR_USERNAME, {"role": User.Role.AUDITOR, "first_name": "审计员"}, PASSWORD)
    officials: dict[str, User] = {}
    for spec in data["departments"]:
        name = spec["name"]
        officials[name] = _user(
            spec["username"],
            {
                "role": User.Role.OFFICIAL,
                "department": departments[name],
                "first_name": f"{name.removeprefix('市')}经办人",
            },
            PASSWORD if spec["username"] == OFFICIAL_USERNAME else None,
        )
    leader = leader_by_post[LEADER_POST]
    leader_user = _user(
        LEADER_USERNAME,
        {"role": User.Role.LEADER, "leader": leader, "first_name": leader.name},
        PASSWORD,
    )

    # An existing user with these names but another role would make the workflow refuse
    # every step half-way through a round; better to say so before starting.
    for name, user in officials.items():
        if not (user.is_official and user.department_id == departments[name].pk):
            raise CommandError(f"User {user.username} exists but is not an official of {name}.")
    if not supervisor.is_supervisor:
        raise CommandError(f"User {supervisor.username} exists but is not a supervisor.")
    if not administrator.is_administrator:
        raise CommandError(f"User {administrator.username} exists but is not an administrator.")
    if not auditor.is_auditor:
        raise CommandError(f"User {auditor.username} exists but is not the auditor.")
    if not (leader_user.is_leader and leader_user.leader_id == leader.pk):
        raise CommandError(f"User {leader_user.username} exists but is not {leader}.")

    return Cast(
        departments,
        heads,
        leader_by_post,
        leader_of_department,
        officials,
        supervisor,
        leader_user,
    )


# --- One round --------------------------------------------------------------------------------


@dataclasses.dataclass
class Draft:
    """An item as written, before it is saved and played through the workflow."""

    category: str
    topic: dict[str, Any]
    ctx: dict[str, str]
    title: str
    clauses: list[str]
    text: str
    lead: str
    co: list[str]
    track: str
    leader: Leader
    texts: list[str] = dataclasses.field(default_factory=list)  # its suggestions
    first_seq: int = 0
    item: Item | None = None


@dataclasses.dataclass
class Plan:
    """What happens to one item: the state it ends in and the detours on the way."""

    end: str
    outcome: str = ""
    light: str = "green"  # for open items: where the deadline falls relative to today
    declined: bool = False  # assigned to the wrong department, declined, waiting
    reassigned: bool = False  # declined once, then assigned to the right department
    returned: bool = False  # a close-out request was sent back once
    extension: str = ""  # "", "pending", "granted" or "refused"
    escalated: bool = False
    comment: bool = False
    co_progress: bool = False
    proposed: bool = False  # a draft whose leader and lead department are already chosen
    wrong: str = ""  # the department that declined


class RoundBuilder:
    def __init__(self, spec: dict[str, Any], data: dict[str, Any], cast: Cast) -> None:
        self.spec = spec
        self.data = data
        self.cast = cast
        self.rng = random.Random(f"{SEED}-{spec['code']}")
        self.phrases: dict[str, list[str]] = data["phrases"]
        self.now = timezone.now()
        self.today = timezone.localdate(self.now)
        self.registered = self.at_day(self.today - spec["registered_days_ago"] * DAY)

    # -- time --------------------------------------------------------------------------------

    def at_day(self, day: datetime.date) -> datetime.datetime:
        """A moment in office hours on ``day``, never later than now."""
        minutes = self.rng.randint(8 * 60 + 30, 17 * 60 + 30)
        moment = timezone.make_aware(
            datetime.datetime.combine(day, datetime.time(minutes // 60, minutes % 60))
        ) + datetime.timedelta(seconds=self.rng.randint(0, 59))
        if moment >= self.now:
            moment = self.now - datetime.timedelta(seconds=self.rng.randint(60, 3600))
        return moment

    def later(self, t: datetime.datetime, lo: int, hi: int) -> datetime.datetime:
        """Some office moment ``lo``–``hi`` days after ``t``, and always after it."""
        moment = self.at_day(timezone.localdate(t) + self.rng.randint(lo, hi) * DAY)
        if moment <= t:
            moment = t + datetime.timedelta(minutes=self.rng.randint(20, 120))
        return moment

    def between(self, t0: datetime.datetime, t1: datetime.datetime) -> datetime.datetime:
        return self.spread(t0, t1, 1)[0]

    def spread(
        self, t0: datetime.datetime, t1: datetime.datetime, k: int
    ) -> list[datetime.datetime]:
        """``k`` increasing moments strictly between ``t0`` and ``t1``, in office hours
        where the window allows it."""
        span = (t1 - t0).total_seconds()
        if span <= 0:
            raise ValueError(f"empty window {t0} – {t1}")
        raw = sorted(
            t0 + datetime.timedelta(seconds=span * self.rng.uniform(0.05, 0.95)) for _ in range(k)
        )
        snapped = [self.at_day(timezone.localdate(t)) for t in raw]
        ok = all(t0 < t < t1 for t in snapped) and all(
            a < b for a, b in itertools.pairwise(snapped)
        )
        return snapped if ok else raw

    # -- writing -----------------------------------------------------------------------------

    def places(self) -> dict[str, str]:
        r = self.rng
        places = self.data["places"]
        county = r.choices(places["counties"], [c["weight"] for c in places["counties"]])[0]
        town, town2 = r.sample(county["towns"], 2)
        roads = places["roads"].get(county["name"], places["roads"]["_other"])
        ctx = {
            "county": county["name"],
            "id_prefix": county["id_prefix"],
            "town": town,
            "town2": town2,
            "village": r.choice(places["villages"]),
            "road": r.choice(roads),
            "estate": r.choice(places["estates"]),
            "river": r.choice(places["rivers"]),
        }
        ctx["school"] = r.choice(places["schools"]).format_map(ctx)
        ctx["market"] = r.choice(places["markets"]).format_map(ctx)
        return ctx

    def person(self, ctx: dict[str, str]) -> dict[str, str]:
        """A citizen's own details, the kind the publication must mask later."""
        r = self.rng
        people = self.data["people"]
        surname = r.choice(people["surnames"])
        given = "某某" if r.random() < 0.25 else r.choice(people["given"])
        phone = r.choice(people["phone_prefixes"]) + f"{r.randint(0, 99_999_999):08d}"
        return ctx | {
            "surname": surname,
            "name": surname + given,
            "phone": phone,
            "idno": self.id_number(ctx["id_prefix"]),
            "no": str(r.randint(1, 388)),
            "b": str(r.randint(1, 28)),
            "u": str(r.randint(1, 4)),
            "r": f"{r.randint(1, 26)}0{r.randint(1, 4)}",
            "hamlet": str(r.randint(1, 12)),
        }

    def id_number(self, prefix: str) -> str:
        """A made-up resident ID of the county, with a valid check digit so that a masker
        which checks them still recognises it."""
        r = self.rng
        birth = datetime.date(1950, 1, 1) + r.randint(0, 45 * 365) * DAY
        body = f"{prefix}{birth:%Y%m%d}{r.randint(0, 999):03d}"
        weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
        return body + check

    def compose(self, topic: dict[str, Any], ctx: dict[str, str]) -> list[str]:
        """The clauses of one suggestion: from a bare sentence to a short paragraph."""
        r = self.rng
        personal = self.data["personal"]
        who = self.person(ctx)
        clauses: list[str] = []
        if r.random() < 0.15:
            clauses.append(r.choice(personal["persona"]).format_map(who))
        problem = r.choice(topic["problems"]).format_map(ctx)
        # The office titles the item after the place; the citizen must have named it.
        for key, locator in self.phrases["locators"].items():
            if "{" + key + "}" in topic["title"]:
                if ctx[key] not in problem:
                    problem = locator.format_map(ctx) + "，" + problem
                break
        if not clauses and r.random() < 0.2:
            problem = r.choice(self.phrases["openers"]) + problem
        clauses.append(problem)
        size = r.random()
        if size > 0.35:
            clauses.append(r.choice(topic["details"]).format_map(ctx))
        if size > 0.8:
            clauses.append(r.choice(self.phrases["complaints"]))
        if r.random() < 0.08:
            clauses.append(r.choice(personal["address"]).format_map(who))
        if topic["field"] in SOCIAL_FIELDS and r.random() < 0.06:
            clauses.append(r.choice(personal["idcard"]).format_map(who))
        if size > 0.2 or r.random() < 0.5:
            requests = topic["requests"] + self.phrases["requests"]
            clauses.append(r.choice(requests).format_map(ctx))
        if r.random() < 0.1:
            clauses.append(r.choice(personal["phone"]).format_map(who))
        elif r.random() < 0.15:
            clauses.append(r.choice(self.phrases["closers"]))
        return clauses

    def render(self, clauses: Sequence[str], style: str | None = None) -> str:
        """Join clauses the way people type: full-width or not, sometimes no stops."""
        r = self.rng
        text = ""
        for i, clause in enumerate(clauses):
            text += clause
            if i < len(clauses) - 1 and not clause.endswith(("，", "：")):
                text += "：" if clause.endswith("反映") else r.choice("，，，。")
        text += r.choice("。。。！")
        style = style or r.choices(["full", "half", "bare", "loud"], [60, 20, 10, 10])[0]
        if style == "loud" and any(c.isdigit() for c in clauses[-1]):
            style = "full"  # nobody shouts their own phone number
        if style == "half":
            text = text.translate(HALF_WIDTH)
        elif style == "bare":
            text = text.replace("，", " ").replace("。", " ").rstrip("！ ")
        elif style == "loud":
            text = text.rstrip("。！") + "！！！"
        return text

    def near_duplicate(self, draft: Draft) -> str:
        """The same suggestion sent again: verbatim, or retyped with small differences."""
        r = self.rng
        how = r.choice(["same", "restyle", "shorter", "longer"])
        if how == "same":
            return draft.text
        if how == "shorter" and len(draft.clauses) > 1:
            return self.render(draft.clauses[:-1])
        if how == "longer":
            return self.render([*draft.clauses, r.choice(self.phrases["requests"])])
        return self.render(draft.clauses, r.choice(["full", "half", "bare"]))

    def write(self) -> list[Draft]:
        """One draft per item, spread over the categories by weight; then the duplicates."""
        r = self.rng
        n_items = self.spec["items"]
        categories = self.data["categories"]
        total = sum(c["weight"] for c in categories)
        # Largest remainder, so the shares come out exact for any item count.
        quotas = [n_items * c["weight"] / total for c in categories]
        counts = [int(q) for q in quotas]
        for i in sorted(range(len(quotas)), key=lambda i: counts[i] - quotas[i])[
            : n_items - sum(counts)
        ]:
            counts[i] += 1
        order = [c["name"] for c, n in zip(categories, counts, strict=True) for _ in range(n)]
        r.shuffle(order)

        decks: dict[str, list[dict[str, Any]]] = {}
        titles: set[str] = set()
        drafts = []
        for category in order:
            if not decks.get(category):
                # Every topic is used once before any is used again: an even spread.
                decks[category] = [
                    t
                    for t in self.data["topics"][category]
                    if self.spec["code"] in t.get("only", [self.spec["code"]])
                ]
                r.shuffle(decks[category])
            topic = decks[category].pop()
            # A title with no place in it gets the county, as the ledger would have it.
            template = topic["title"] if "{" in topic["title"] else "{county}" + topic["title"]
            for _ in range(10):
                ctx = self.places()
                title = template.format_map(ctx)
                if title not in titles:
                    break
            else:
                title += f"（{ctx['town']}）"
            titles.add(title)
            clauses = self.compose(topic, ctx)
            text = self.render(clauses)
            leader = (
                self.cast.leader_by_post[topic["leader"]]
                if "leader" in topic
                else self.cast.leader_of_department[topic["lead"]]
            )
            drafts.append(
                Draft(
                    category=category,
                    topic=topic,
                    ctx=ctx,
                    title=title,
                    clauses=clauses,
                    text=text,
                    lead=topic["lead"],
                    co=list(topic["co"]),
                    track=topic["track"],
                    leader=leader,
                    texts=[text],
                )
            )

        # Some citizens sent the same thing twice; the office merged them (归纳), so these
        # become extra suggestions of an existing item. One item gets two of them.
        extra = self.spec["suggestions"] - n_items
        if extra > 0:
            targets = r.sample(range(n_items), extra - 1) if extra > 1 else []
            targets = [*targets, targets[0]] if targets else r.sample(range(n_items), 1)
            for i in targets:
                drafts[i].texts.append(self.near_duplicate(drafts[i]))
        return drafts

    # -- saving ------------------------------------------------------------------------------

    def save(self, drafts: list[Draft], plans: list[Plan]) -> Round:
        spec = self.spec
        round_ = Round.objects.create(
            name=spec["name"],
            code=spec["code"],
            year=spec["year"],
            kind=spec["kind"],
            document_number=spec["document_number"],
            source=spec["source"],
            received_on=datetime.date.fromisoformat(spec["received_on"]),
        )
        categories = {
            c["name"]: Category.objects.create(round=round_, name=c["name"], order=order)
            for order, c in enumerate(self.data["categories"], start=1)
        }

        # Suggestions as received: categories and duplicates mixed, as a survey sends them.
        received = [(d, text) for d in drafts for text in d.texts]
        self.rng.shuffle(received)
        for seq, (draft, _) in enumerate(received, start=1):
            draft.first_seq = draft.first_seq or seq

        # The ledger lists items category by category, in the order they were received.
        category_order = {name: i for i, name in enumerate(categories)}
        numbered = sorted(
            zip(drafts, plans, strict=True),
            key=lambda dp: (category_order[dp[0].category], dp[0].first_seq),
        )
        items = []
        for number, (draft, plan) in enumerate(numbered, start=1):
            ctx = draft.ctx | {"lead": draft.lead, "co": "、".join(draft.co)}
            created = self.registered + datetime.timedelta(seconds=number)
            proposed = {}
            if plan.proposed:
                proposed = {
                    "leader": draft.leader,
                    "lead_department": self.cast.departments[draft.lead],
                    "responsible_person": f"{draft.lead}{self.cast.heads[draft.lead]}",
                }
            draft.item = Item(
                round=round_,
                number=f"{round_.code}-{number:04d}",
                category=categories[draft.category],
                title=draft.title,
                track=draft.track,
                measures=draft.topic["measures"].format_map(ctx),
                goal=draft.topic["goal"].format_map(ctx),
                # One consolidation made them all; the later updates keep the ledger's order.
                created_at=self.registered,
                updated_at=created,
                **proposed,
            )
            items.append(draft.item)
        Item.objects.bulk_create(items)
        seqs: dict[int, list[int]] = {}
        for seq, (draft, _) in enumerate(received, start=1):
            seqs.setdefault(id(draft), []).append(seq)
        for draft in drafts:
            draft.item._creation = {"suggestions": seqs[id(draft)]}
        workflow.record_creation(
            items, by=self.cast.supervisor, how="consolidation", at=self.registered
        )

        channels = ["电话访问"] * 6 + ["网络评议"] * 3 + ["短信评议"]
        Suggestion.objects.bulk_create(
            Suggestion(
                round=round_,
                seq=seq,
                text=text,
                category_text=draft.topic["field"],
                region=draft.ctx["county"],
                channel=self.rng.choice(channels),
                item=draft.item,
                created_at=self.registered,
            )
            for seq, (draft, text) in enumerate(received, start=1)
        )
        return round_

    # -- planning ----------------------------------------------------------------------------

    def plan(self, drafts: list[Draft]) -> list[Plan]:
        r = self.rng
        n = len(drafts)
        shares = self.spec["states"]
        scen = self.spec["scenarios"]

        # Hand out end states by smooth weighted round-robin over the items sorted by
        # department, so that every department, 市教育局 above all, gets a bit of each.
        keys = list(shares)
        weights = [shares[k] for k in keys]
        current = [0.0] * len(keys)
        total = sum(weights)
        ends: dict[int, Plan] = {}
        for i in sorted(range(n), key=lambda i: (drafts[i].lead, r.random())):
            current = [c + w for c, w in zip(current, weights, strict=True)]
            k = max(range(len(keys)), key=current.__getitem__)
            current[k] -= total
            key = keys[k]
            if key.startswith("closed_"):
                ends[i] = Plan(end=CLOSED, outcome=key.removeprefix("closed_"))
            elif key == REQUESTED:
                ends[i] = Plan(end=REQUESTED, outcome=DONE if r.random() < 0.7 else LONG_TERM)
            else:
                ends[i] = Plan(end=key)
        plans = [ends[i] for i in range(n)]

        def where(*ends: str, **flags: Any) -> list[int]:
            return [
                i
                for i, p in enumerate(plans)
                if p.end in ends and all(getattr(p, f) == v for f, v in flags.items())
            ]

        def pick(candidates: list[int], k: int) -> list[int]:
            """``k`` of the candidates, one of them led by 市教育局 when there is one, so
            the demo official sees every situation."""
            if k <= 0 or not candidates:
                return []
            focus = [i for i in candidates if drafts[i].lead == OFFICIAL_DEPARTMENT]
            chosen = [r.choice(focus)] if focus else []
            rest = [i for i in candidates if i not in chosen]
            return chosen + r.sample(rest, min(k - len(chosen), len(rest)))

        for i in pick(where(DRAFT), scen["declined"]):
            plans[i].declined = True
            plans[i].wrong = self.wrong_department(drafts[i])
        # Half the drafts waiting for their first assignment already have a leader and a
        # lead department proposed; only the deadline is missing.
        fresh = where(DRAFT, declined=False)
        for i in pick(fresh, len(fresh) // 2):
            plans[i].proposed = True
        for i in pick(where(IN_PROGRESS, CLOSED), scen["reassigned"]):
            plans[i].reassigned = True
            plans[i].wrong = self.wrong_department(drafts[i])
        for i in pick(where(CLOSED), scen["returned_closed"]):
            plans[i].returned = True
        for i in pick(where(IN_PROGRESS, reassigned=False), scen["returned_open"]):
            plans[i].returned = True
        for i in pick(where(CLOSED, returned=False), scen["extension_granted_closed"]):
            plans[i].extension = "granted"
        open_work = (ASSIGNED, IN_PROGRESS)
        for i in pick(where(*open_work, returned=False), scen["extension_pending"]):
            plans[i].extension = "pending"
            plans[i].light = r.choice(["yellow", "red"])
        for i in pick(
            where(*open_work, returned=False, extension=""), scen["extension_granted_open"]
        ):
            plans[i].extension = "granted"
        for i in pick(where(*open_work, returned=False, extension=""), scen["extension_refused"]):
            plans[i].extension = "refused"
            plans[i].light = "red"

        plain = where(*open_work, extension="")
        reds = pick(plain, max(3, round(scen["overdue_share"] * len(plain))))
        for i in reds:
            plans[i].light = "red"
        plain = [i for i in plain if i not in reds]
        for i in pick(plain, max(2, round(scen["due_soon_share"] * len(plain)))):
            plans[i].light = "yellow"
        for i in pick(where(REQUESTED), 2):
            plans[i].light = "yellow"

        overdue = [i for i, p in enumerate(plans) if p.light == "red" and p.end in open_work]
        for i in pick(overdue, max(3, round(scen["escalated_share"] * len(overdue)))):
            plans[i].escalated = True
        # One item pressed before its deadline: escalation is not only for overdue ones.
        for i in pick(where(IN_PROGRESS, light="green", escalated=False), 1):
            plans[i].escalated = True

        # The demo leader comments on their own items, spread over the states: one from
        # each state in turn until there are enough.
        by_end: dict[str, list[int]] = {}
        for i, p in enumerate(plans):
            if drafts[i].leader.post == LEADER_POST and (p.end != DRAFT or p.declined):
                by_end.setdefault(p.end, []).append(i)
        for group in by_end.values():
            r.shuffle(group)
        chosen: list[int] = []
        while len(chosen) < scen["comments"] and any(by_end.values()):
            for group in by_end.values():
                if group and len(chosen) < scen["comments"]:
                    chosen.append(group.pop())
        for i in chosen:
            plans[i].comment = True

        for i in where(IN_PROGRESS, REQUESTED, CLOSED):
            if drafts[i].co and r.random() < scen["co_progress_share"]:
                plans[i].co_progress = True
        return plans

    def wrong_department(self, draft: Draft) -> str:
        """A department a supervisor might plausibly have handed the item to by mistake."""
        if draft.co:
            return draft.co[0]
        others = sorted({t["lead"] for t in self.data["topics"][draft.category]} - {draft.lead})
        return self.rng.choice(others or sorted(set(self.cast.departments) - {draft.lead}))

    # -- playing -----------------------------------------------------------------------------

    def deadline_for(self, light: str) -> datetime.date:
        r = self.rng
        if light == "red":
            return self.today - r.randint(1, 75) * DAY
        if light == "yellow":
            return self.today + r.randint(0, settings.DUE_SOON_DAYS) * DAY
        return self.today + r.randint(settings.DUE_SOON_DAYS + 1, 120) * DAY

    def story(self, draft: Draft, plan: Plan) -> list[Step]:
        """The item's history as timed workflow steps, in an order the workflow allows."""
        r = self.rng
        cast = self.cast
        item = draft.item
        assert item is not None
        sup = cast.supervisor
        lead = cast.officials[draft.lead]
        phrase = self.phrases
        names = {"lead": draft.lead, "right": draft.lead}
        steps: list[Step] = []

        def assign(dept: str, deadline: datetime.date, co: Iterable[str]) -> Callable:
            return lambda at: workflow.assign(
                item,
                by=sup,
                leader=draft.leader,
                lead_department=cast.departments[dept],
                co_departments=[cast.departments[c] for c in co],
                deadline=deadline,
                responsible_person=f"{dept}{cast.heads[dept]}",
                note=r.choice(phrase["assign_notes"]),
                at=at,
            )

        def decline(dept: str) -> Callable:
            reason = r.choice(phrase["decline_reasons"]).format_map(names)
            return lambda at: workflow.decline(item, by=cast.officials[dept], reason=reason, at=at)

        def comment() -> Callable:
            text = r.choice(phrase["comments"]).format_map(names)
            return lambda at: workflow.comment(item, by=cast.leader_user, text=text, at=at)

        def report(text: str, percent: int, by: User = lead) -> Callable:
            return lambda at: workflow.post_progress(
                item, by=by, text=text.format_map(draft.ctx), percent=percent, at=at
            )

        def reports(times: list[datetime.datetime], top: int) -> list[Step]:
            texts = draft.topic["progress"]
            # Steady climb to ``top``: a department reports a third, two thirds, all of it.
            k = len(times)
            percents = [max(5, top * (j + 1) // k - r.randint(0, 8)) for j in range(k - 1)]
            percents.append(top)
            return [
                (t, report(texts[min(j, len(texts) - 1)], p))
                for j, (t, p) in enumerate(zip(times, percents, strict=True))
            ]

        # Declined and now waiting: recent, so the demo shows it as today's business.
        if plan.declined:
            a = self.at_day(self.today - r.randint(6, 20) * DAY)
            deadline = self.today + r.randint(30, 75) * DAY
            d = self.later(a, 1, 4)
            steps += [(a, assign(plan.wrong, deadline, [])), (d, decline(plan.wrong))]
            if plan.comment:
                steps.append((self.between(a, self.now), comment()))
            return steps
        if plan.end == DRAFT:
            return steps

        a = self.at_day(timezone.localdate(self.registered) + r.randint(2, 30) * DAY)
        if plan.reassigned:
            first = a
            d = self.later(first, 1, 3)
            a = self.later(d, 2, 6)

        # The deadline the item is assigned with, and the one it ends up with.
        if plan.end == CLOSED:
            if plan.extension == "granted":
                deadline = timezone.localdate(a) + r.randint(40, 70) * DAY
            else:
                deadline = timezone.localdate(a) + r.randint(60, 150) * DAY
        elif plan.extension == "granted":
            asked = self.at_day(self.today - r.randint(12, 45) * DAY)
            deadline = timezone.localdate(asked) + r.randint(2, 12) * DAY
        elif plan.extension == "refused":
            deadline = self.today - r.randint(5, 60) * DAY
        else:
            deadline = self.deadline_for(plan.light)
        co = draft.co if draft.track == Item.Track.JOINT or r.random() < 0.3 else []

        if plan.reassigned:
            steps += [(first, assign(plan.wrong, deadline, [])), (d, decline(plan.wrong))]
            co = [c for c in draft.co if c != draft.lead] or [plan.wrong]
        steps.append((a, assign(draft.lead, deadline, co)))

        start_note = r.choice(phrase["start_notes"])
        started: datetime.datetime | None = None
        first_request: datetime.datetime | None = None
        if plan.end != ASSIGNED:
            started = self.later(a, 1, 8)
            steps.append(
                (started, lambda at: workflow.start(item, by=lead, note=start_note, at=at))
            )

        top = r.randint(90, 100) if plan.outcome == DONE else r.randint(60, 90)
        outcome_text = draft.topic[plan.outcome or DONE].format_map(draft.ctx)

        def request() -> Callable:
            return lambda at: workflow.request_closeout(
                item, by=lead, outcome=outcome_text, outcome_kind=plan.outcome or DONE, at=at
            )

        def give_back() -> Callable:
            reason = r.choice(phrase["return_reasons"])
            return lambda at: workflow.return_request(item, by=sup, reason=reason, at=at)

        if plan.end == CLOSED:
            assert started is not None
            if plan.extension == "granted":
                asked = self.at_day(deadline - r.randint(2, 8) * DAY)
                granted = self.later(asked, 1, 3)
                first_request = self.later(granted, 8, 20)
                closed = self.later(first_request, 2, 6)
                new_deadline = deadline + r.randint(30, 60) * DAY
                steps += self.extension_steps(item, lead, asked, granted, new_deadline)
                steps += reports(
                    [self.between(started, asked), self.between(granted, first_request)], top
                )
                steps.append((first_request, request()))
            else:
                end_limit = min(self.at_day(deadline), self.now - DAY)
                span = 40 if plan.returned else 20
                if end_limit <= started + span * DAY:
                    end_limit = started + (span + 30) * DAY
                closed = self.between(started + span * DAY, end_limit)
                second = self.at_day(timezone.localdate(closed) - r.randint(2, 8) * DAY)
                if plan.returned:
                    first_request = self.at_day(
                        timezone.localdate(started + (second - started) * 0.45)
                    )
                    back = self.later(first_request, 2, 5)
                    steps += reports(self.spread(started, first_request, r.randint(1, 2)), top - 10)
                    steps += [(first_request, request()), (back, give_back())]
                    steps.append(
                        (self.between(back, second), report(draft.topic["progress"][-1], top))
                    )
                else:
                    first_request = second
                    steps += reports(self.spread(started, second, r.randint(1, 3)), top)
                steps.append((second, request()))
            note = r.choice(phrase["approve_done" if plan.outcome == DONE else "approve_long_term"])
            steps.append((closed, lambda at: workflow.approve(item, by=sup, note=note, at=at)))
        elif plan.end == REQUESTED:
            assert started is not None
            first_request = self.at_day(self.today - r.randint(1, 12) * DAY)
            steps += reports(self.spread(started, first_request, r.randint(1, 3)), top)
            steps.append((first_request, request()))
        elif plan.end == IN_PROGRESS:
            assert started is not None
            last = self.at_day(self.today - r.randint(1, 20) * DAY)
            if plan.returned:
                # Sent back a while ago, so that work after the return fits before today.
                first_request = self.between(started, self.now - 25 * DAY)
                back = self.later(first_request, 2, 5)
                steps += reports(self.spread(started, first_request, r.randint(1, 2)), 85)
                steps += [(first_request, request()), (back, give_back())]
                steps.append(
                    (
                        self.between(back, self.now),
                        report(draft.topic["progress"][-1], r.randint(86, 95)),
                    )
                )
            else:
                steps += reports(self.spread(started, last, r.randint(1, 3)), r.randint(30, 80))

        # Detours that do not move the state.
        if plan.extension == "pending":
            asked = self.at_day(self.today - r.randint(1, 6) * DAY)
            new_deadline = max(deadline, self.today) + r.randint(20, 60) * DAY
            steps += self.extension_steps(item, lead, asked, None, new_deadline)
        elif plan.extension == "granted" and plan.end != CLOSED:
            # ``asked`` was drawn with the deadline above: the request came just before it.
            granted = self.later(asked, 1, 4)
            new_deadline = max(
                self.deadline_for(r.choice(["green", "green", "yellow"])), deadline + DAY
            )
            steps += self.extension_steps(item, lead, asked, granted, new_deadline)
        elif plan.extension == "refused":
            asked = self.at_day(deadline - r.randint(2, 10) * DAY)
            refused = self.later(asked, 1, 3)
            new_deadline = deadline + r.randint(20, 40) * DAY
            steps += self.extension_steps(item, lead, asked, refused, new_deadline, grant=False)

        if plan.escalated:
            if deadline < self.today:
                days = min(15, (self.today - deadline).days)
                at = self.at_day(deadline + r.randint(1, days) * DAY)
                notes = phrase["escalations"]
            else:
                at = self.between(started or a, self.now)
                notes = phrase["escalations_early"]
            note = r.choice(notes).format_map(names)
            steps.append((at, lambda at: workflow.escalate(item, by=sup, note=note, at=at)))

        if plan.co_progress and started is not None:
            co_dept = co[0] if co else None
            if co_dept:
                until = first_request or self.now
                text = r.choice(phrase["co_progress"]).format_map(names)
                steps.append(
                    (
                        self.between(started, until),
                        report(text, r.randint(50, 100), by=cast.officials[co_dept]),
                    )
                )

        if plan.comment:
            steps.append((self.between(a, self.now), comment()))
        return steps

    def extension_steps(
        self,
        item: Item,
        lead: User,
        asked: datetime.datetime,
        decided: datetime.datetime | None,
        new_deadline: datetime.date,
        grant: bool = True,
    ) -> list[Step]:
        """The lead department asks for a later deadline; a supervisor decides, or not yet."""
        r = self.rng
        cast = self.cast
        reason = r.choice(self.phrases["extension_reasons"])

        def ask(at: datetime.datetime) -> object:
            return workflow.request_extension(
                item, by=lead, new_deadline=new_deadline, reason=reason, at=at
            )

        steps: list[Step] = [(asked, ask)]
        if decided is not None:
            if grant:
                note = r.choice(self.phrases["grant_notes"])
                steps.append(
                    (
                        decided,
                        lambda at: workflow.grant_extension(
                            item, by=cast.supervisor, note=note, at=at
                        ),
                    )
                )
            else:
                reason2 = r.choice(self.phrases["refuse_reasons"])
                steps.append(
                    (
                        decided,
                        lambda at: workflow.refuse_extension(
                            item, by=cast.supervisor, reason=reason2, at=at
                        ),
                    )
                )
        return steps

    # -- all together ------------------------------------------------------------------------

    def build(self) -> Round:
        drafts = self.write()
        plans = self.plan(drafts)
        round_ = self.save(drafts, plans)
        for draft, plan in zip(drafts, plans, strict=True):
            steps = sorted(self.story(draft, plan), key=lambda step: step[0])
            for at, act in steps:
                if at >= self.now:
                    raise CommandError(f"{draft.item}: a step lands in the future ({at}).")
                act(at)
        self.corrections(round_)
        return round_

    def corrections(self, round_: Round) -> None:
        """The ledger corrected, as offices do (docs/corrections.md): an item of another
        department moved to the demo official's (调整交办), so that the change shows in its
        timeline and in the official's notifications. Nothing is merged or withdrawn: the
        demo's figures are those of the published notice it reproduces."""
        sup = self.cast.supervisor
        ours = self.cast.departments[OFFICIAL_DEPARTMENT]
        moved = (
            Item.objects.filter(round=round_, state=IN_PROGRESS, escalated_at__isnull=True)
            .exclude(lead_department=ours)
            .exclude(co_departments=ours)
            .order_by("number")
            .first()
        )
        if moved is not None:
            previous = moved.lead_department.name.removeprefix("市")
            workflow.reassign(
                moved,
                by=sup,
                reason=f"经协调，该问题涉及校园周边管理，改由市教育局牵头、{previous}配合。",
                leader=moved.leader,
                lead_department=ours,
                co_departments=[moved.lead_department],
                deadline=moved.deadline,
                long_term=moved.long_term,
                at=self.now - 2 * DAY,
            )


# --- The command ------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Build the demo ledger of the first seed (2019年度 and 2020年中期, items in every "
        "state) and print one demo sign-in per role. Safe to run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        data = load_reference()
        with transaction.atomic():
            cast = ensure_cast(data)
        for spec in data["rounds"]:
            existing = Round.objects.filter(Q(code=spec["code"]) | Q(name=spec["name"])).first()
            if existing is not None:
                self.stdout.write(f"{existing.name}: 已存在，跳过 / already there, skipped")
            else:
                with transaction.atomic():
                    RoundBuilder(spec, data, cast).build()
        self.stdout.write("")
        for spec in data["rounds"]:
            round_ = Round.objects.filter(code=spec["code"]).first()
            if round_ is not None:
                self.summarise(round_)
        self.notice(cast)
        self.supervision(cast)
        self.sign_ins(cast)

    def notice(self, cast: Cast) -> None:
        """The public notice (公示) of both rounds, as the first seed publishes it: composed
        here and published through the background worker (`make run` starts it)."""
        from ledger.publication.models import Notice, Section
        from ledger.publication.tasks import start_publishing

        rounds = list(Round.objects.filter(code__in=["2019", "2020M"]).order_by("year"))
        if len(rounds) != 2 or Notice.objects.filter(title=DEMO_NOTICE_TITLE).exists():
            return
        with transaction.atomic():
            notice = Notice.objects.create(
                title=DEMO_NOTICE_TITLE,
                issuer="玉林市委市政府督查和绩效考评办公室",
                date=timezone.localdate(),
                document_number="",
                created_by=cast.supervisor,
            )
            notice.annex_rounds.set(rounds)
            for order, (heading, body, round_) in enumerate(demo_sections(rounds), start=1):
                Section.objects.create(
                    notice=notice, order=order, heading=heading, body=body, round=round_
                )
        job = start_publishing(notice, cast.supervisor)
        self.stdout.write(
            f"公示 notice: {notice.title} — 发布任务 publishing job {job.pk} ({job.state})"
        )

    def supervision(self, cast: Cast) -> None:
        """The evaluation office's day: the ladder's steps proposed for today, and a phone
        review (专项评议) of the 2019 round's closed items imported as its sheet would be."""
        from ledger.supervision.ladder import propose
        from ledger.supervision.models import ReviewBatch
        from ledger.supervision.reviews import plan_review, write_review

        proposal = propose()
        self.stdout.write(
            f"督办阶梯 ladder: {proposal.new_total} 项待确认 steps proposed for today"
        )
        round_ = Round.objects.filter(code="2019").first()
        if round_ is None or ReviewBatch.objects.filter(round=round_).exists():
            return
        closed = list(Item.objects.filter(round=round_, state=Item.State.CLOSED).order_by("number"))
        r = random.Random(2019)
        rated = r.sample(closed, k=len(closed) * 2 // 3)
        words = ["满意"] * 6 + ["基本满意"] * 3 + ["不满意"]
        comments = {
            "满意": "群众反映问题已解决",
            "基本满意": "有改善，希望继续保持",
            "不满意": "问题仍然存在",
        }
        lines = ["事项编号,评议结果,评议意见"]
        for item in sorted(rated, key=lambda item: item.number):
            word = r.choice(words)
            lines.append(f"{item.number},{word},{comments[word]}")
        data = "\n".join(lines).encode("utf-8")
        plan = plan_review(data, "2019年度专项评议结果.csv", round_)
        batch = write_review(plan, by=cast.supervisor)
        self.stdout.write(f"专项评议 phone review: {batch.rows} 条评议 ratings imported")

    def summarise(self, round_: Round) -> None:
        items = Item.objects.filter(round=round_)
        by_state = dict(items.values_list("state").annotate(n=Count("pk")).order_by())
        by_outcome = dict(
            items.filter(state=CLOSED)
            .values_list("outcome_kind")
            .annotate(n=Count("pk"))
            .order_by()
        )
        pending = Extension.objects.filter(
            item__round=round_, status=Extension.Status.PENDING
        ).count()
        self.stdout.write(
            f"{round_.name} ({round_.document_number}): "
            f"{round_.suggestions.count()} 条意见建议 → {items.count()} 项整改事项"
        )
        self.stdout.write(
            "  "
            + " · ".join(
                f"{State(value).label} {by_state.get(value, 0)}" for value in Item.LIVE_STATES
            )
        )
        self.stdout.write(
            f"  已销号 closed: 已完成 done {by_outcome.get(DONE, 0)} · "
            f"长期坚持 long-term {by_outcome.get(LONG_TERM, 0)}; "
            f"逾期 overdue {items.overdue().count()} · "
            f"挂牌督办 escalated {items.filter(escalated_at__isnull=False).count()} · "
            f"延期待批 pending extensions {pending}"
        )

    def sign_ins(self, cast: Cast) -> None:
        official = cast.officials[OFFICIAL_DEPARTMENT]
        leader = cast.leader_user.leader
        self.stdout.write("")
        self.stdout.write(f"演示账号 / Demo sign-ins (password: {PASSWORD}):")
        self.stdout.write(f"  督查员 supervisor     {cast.supervisor.username}")
        self.stdout.write(f"  部门经办人 official   {official.username} ({OFFICIAL_DEPARTMENT})")
        self.stdout.write(f"  市级领导 leader       {cast.leader_user.username} ({leader})")
        self.stdout.write(f"  系统管理员 administrator {ADMINISTRATOR_USERNAME}")
        self.stdout.write(f"  审计员 auditor        {AUDITOR_USERNAME}")


DEMO_NOTICE_TITLE = "玉林市落实自治区2019年度和2020年中期社会评价群众意见建议整改情况公示"


def demo_sections(rounds: list[Round]) -> list[tuple[str, str, Round | None]]:
    """The sections of the first seed notice, with its figures drawn from the ledger."""
    r2019, r2020 = rounds
    return [
        (
            "",
            "根据自治区绩效办《2020年度设区市和自治区直属机关社会评价工作方案》（桂绩办发〔2020〕6号）"
            "的通知要求，现将我市落实自治区2019年度和2020年中期社会评价群众意见建议整改情况公示如下。",
            None,
        ),
        (
            "一、2019年度意见建议整改情况",
            "自治区反馈我市2019年度社会评价群众意见建议共{{ received }}条，由于部分意见建议内容"
            "相似或相同，梳理汇总后归纳为{{ consolidated }}条，已交办{{ total }}条。"
            "目前已完成整改{{ closed }}条，其中已完成{{ done }}条、长期坚持{{ long_term }}条，"
            "整改率{{ rate }}；正在整改{{ in_progress }}条。",
            r2019,
        ),
        (
            "二、2020年中期意见建议整改情况",
            "自治区反馈我市2020年中期社会评价群众意见建议共{{ received }}条，"
            "归纳为{{ consolidated }}条，已交办{{ total }}条。"
            "目前已完成整改{{ closed }}条，整改率{{ rate }}；正在整改{{ in_progress }}条。",
            r2020,
        ),
        (
            "三、下一步工作",
            "- 对已完成整改的问题，适时组织“回头看”，防止问题反弹。\n"
            "- 对需要长期坚持的问题，建立长效机制，持续推进。\n"
            "- 对正在整改的问题，**明确时限、压实责任**，确保按期销号。\n\n"
            "附件：整改完成情况一览表",
            None,
        ),
    ]
