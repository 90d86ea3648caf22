"""Tiny helpers that make rows for tests; each takes keyword overrides."""

from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

from ledger.models import Category, Department, Item, Leader, Round, Suggestion, User

_seq = itertools.count(1)


def make_round(**kw) -> Round:
    n = next(_seq)
    defaults = {"name": f"{2000 + n}年度", "code": f"r{n}", "year": 2000 + n, "kind": "annual"}
    return Round.objects.create(**(defaults | kw))


def make_department(name: str | None = None, **kw) -> Department:
    return Department.objects.create(name=name or f"部门{next(_seq)}", **kw)


def make_leader(**kw) -> Leader:
    n = next(_seq)
    return Leader.objects.create(**({"name": f"领导{n}", "post": "副市长"} | kw))


def make_user(username: str | None = None, **kw) -> User:
    user = User(username=username or f"user{next(_seq)}", **kw)
    user.set_password("password")
    user.save()
    return user


def make_item(round: Round | None = None, **kw) -> Item:
    round = round or make_round()
    n = next(_seq)
    defaults = {"round": round, "number": f"{round.code}-{n:04d}", "title": f"问题{n}"}
    item = Item.objects.create(**(defaults | kw))
    return item


def make_suggestion(round: Round, **kw) -> Suggestion:
    n = next(_seq)
    return Suggestion.objects.create(**({"round": round, "seq": n, "text": f"建议{n}"} | kw))


def make_category(round: Round, name: str = "经济发展", **kw) -> Category:
    return Category.objects.create(round=round, name=name, **kw)


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)
