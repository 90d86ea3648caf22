"""The phone review (专项评议) import: upload → preview → confirm, every kind of refused row,
the round read from the numbers, and the ratings on the item page."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from ledger import workflow
from ledger.intake.reading import IntakeError, read_table
from ledger.models import AuditEntry, Event, Item
from ledger.supervision import reviews
from ledger.supervision.models import Rating, ReviewBatch

from .factory import in_days, make_item, make_round
from .files.intake import build

S = Item.Satisfaction
HEADER = ["序号", "事项编号", "问题", "评议结果", "群众意见", "联系电话"]


@pytest.fixture(autouse=True)
def fresh_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


def stored() -> list[str]:
    try:
        return default_storage.listdir("intake/uploads")[1]
    except FileNotFoundError:
        return []


def closed_item(cast, title: str, round=None, **kw) -> Item:
    """An item of 教育局 taken through to close-out."""
    item = make_item(round or cast.round, title=title, **kw)
    workflow.assign(
        item, by=cast.alice, leader=cast.leader, lead_department=cast.edu, deadline=in_days(30)
    )
    workflow.start(item, by=cast.bob)
    workflow.request_closeout(item, by=cast.bob, outcome="已完成", outcome_kind="done")
    workflow.approve(item, by=cast.alice)
    return Item.objects.get(pk=item.pk)


@pytest.fixture
def three(cast):
    return [
        closed_item(cast, "学校周边交通拥堵"),
        closed_item(cast, "食堂卫生差"),
        closed_item(cast, "校车安全隐患"),
    ]


def sheet(rows, header=HEADER, **kw) -> bytes:
    return build.xlsx([header, *rows], title="2019年度整改成效电话访问结果", **kw)


def upload(client, data: bytes, name="电话访问结果.xlsx", round=None):
    fields = {"file": SimpleUploadedFile(name, data)}
    if round is not None:
        fields["round"] = str(round.pk)
    return client.post(reverse("supervision:review-import"), fields)


def confirm(client, response, **extra):
    token = response.context["confirm"].initial["upload"]
    return client.post(reverse("supervision:review-confirm"), {"upload": token, **extra})


def refusals(response) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for refusal in response.context["plan"].refused:
        out.setdefault(refusal.row, []).append(refusal.reason)
    return out


# --- A good sheet -------------------------------------------------------------------------------


def test_a_good_sheet_previews_then_saves_exactly_its_rows(client, cast, three):
    a, b, c = three
    versions = {i.pk: i.version for i in three}
    client.force_login(cast.alice)
    data = sheet(
        [
            [1, a.number, a.title, "满意", "护学岗每天都在", "138****0001"],
            [2, b.number, b.title, " 基本　满意 ", "", "138****0002"],
            [3, c.number, c.title, "不满意", "校车还是超载", "138****0003"],
        ]
    )
    response = upload(client, data)
    assert response.status_code == 200
    plan = response.context["plan"]
    assert plan.round == cast.round and response.context["recognised"]
    assert [(v, n) for v, _label, n in plan.counts] == [
        (S.SATISFIED, 1),
        (S.BASIC, 1),
        (S.UNSATISFIED, 1),
    ]
    # Every column the import does not read is named, the 序号 beside the item number too.
    (note,) = response.context["table_notes"]
    assert "序号、问题、联系电话" in note.text
    page = response.content.decode()
    assert "序号、问题、联系电话" in page and "校车还是超载" in page
    assert reverse("supervision:review-confirm") in page
    # Nothing is written by a preview; the file waits for the confirmation.
    assert not Rating.objects.exists() and not ReviewBatch.objects.exists()
    assert len(stored()) == 1

    done = confirm(client, response)
    assert done.status_code == 302 and done["Location"] == reverse("supervision:reviews")
    batch = ReviewBatch.objects.get()
    assert (batch.round, batch.file_name, batch.rows, batch.imported_by) == (
        cast.round,
        "电话访问结果.xlsx",
        3,
        cast.alice,
    )
    assert sorted(batch.ratings.values_list("item__number", "value", "comment")) == sorted(
        [
            (a.number, S.SATISFIED, "护学岗每天都在"),
            (b.number, S.BASIC, ""),
            (c.number, S.UNSATISFIED, "校车还是超载"),
        ]
    )
    for item, value in zip(three, [S.SATISFIED, S.BASIC, S.UNSATISFIED], strict=True):
        fresh = Item.objects.get(pk=item.pk)
        assert (fresh.state, fresh.satisfaction) == (Item.State.CLOSED, value)
        assert fresh.version == versions[item.pk] + 1
        (event,) = Event.objects.filter(item=item, kind=Event.Kind.RATE)
        assert (event.actor, event.from_state, event.to_state) == (cast.alice, "closed", "closed")
        assert event.data["rating"] == value and event.data["batch"] == batch.pk
    assert Event.objects.get(item=c, kind="rate").data["comment"] == "校车还是超载"
    # Each event is copied to the audit trail, and the import has its own line.
    rated = AuditEntry.objects.filter(kind="item", detail__event__isnull=False)
    assert rated.filter(detail__rating__isnull=False).count() == 3
    line = AuditEntry.objects.get(kind="item", detail__batch=batch.pk, detail__rows=3)
    assert line.username == "alice" and "电话访问结果.xlsx" in line.summary
    assert stored() == []

    listing = client.get(done["Location"]).content.decode()
    assert "电话访问结果.xlsx" in listing and "督查员甲" in listing
    # The one rated 不满意 waits there for a supervisor to decide on it.
    assert reverse("ledger:item", args=[c.pk]) in listing
    assert reverse("ledger:item", args=[a.pk]) not in listing


def test_csv_sheets_in_gb18030_with_full_width_numbers_are_read_too(client, cast, three):
    a, b, _c = three
    full_width = a.number.translate({ord(ch): ord(ch) + 0xFEE0 for ch in "0123456789-"})
    data = build.csv_bytes(
        [
            ["编号", "满意度", "意见"],
            [full_width, "不 满 意", "没有变化"],
            [b.number, "满意。", ""],
        ],
        encoding="gb18030",
    )
    client.force_login(cast.alice)
    response = upload(client, data, name="回访.csv", round=cast.round)
    assert response.status_code == 200
    assert [(r.item, r.value) for r in response.context["plan"].ratings] == [
        (a, S.UNSATISFIED),
        (b, S.SATISFIED),
    ]
    assert not response.context["recognised"]
    confirm(client, response)
    assert Item.objects.get(pk=a.pk).satisfaction == S.UNSATISFIED


@pytest.mark.parametrize(
    "text, value",
    [
        ("满意", S.SATISFIED),
        (" 满 意 ", S.SATISFIED),
        ("满\u3000意", S.SATISFIED),
        ("基本满意", S.BASIC),
        ("（基本满意）", S.BASIC),
        ("不满意。", S.UNSATISFIED),
        ("Not satisfied", S.UNSATISFIED),
        ("satisfied", S.SATISFIED),
        ("较满意", None),
        ("比较满意", None),
        ("一般", None),
        ("非常满意", None),
        ("很不满意", None),
        ("满意/不满意", None),
        ("1", None),
    ],
)
def test_the_ratings_accepted_are_the_three_words_and_nothing_between(text, value):
    assert reviews.rating_of(text) == value


def test_a_second_review_replaces_the_items_rating_and_keeps_the_first(client, cast, three):
    a = three[0]
    client.force_login(cast.alice)
    confirm(client, upload(client, sheet([[1, a.number, "", "满意", "第一次回访", ""]])))
    again = upload(client, sheet([[1, a.number, "", "不满意", "第二次回访", ""]]))
    assert again.context["plan"].rated_before == 1
    confirm(client, again)
    assert Item.objects.get(pk=a.pk).satisfaction == S.UNSATISFIED
    assert list(
        Rating.objects.filter(item=a).order_by("batch_id").values_list("comment", flat=True)
    ) == ["第一次回访", "第二次回访"]


# --- Refused rows ------------------------------------------------------------------------------


def test_each_kind_of_bad_row_is_named_and_nothing_is_saved(client, cast, three):
    a, b, c = three
    open_item = make_item(cast.round, title="仍在整改")
    workflow.assign(
        open_item, by=cast.alice, leader=cast.leader, lead_department=cast.edu, deadline=in_days(9)
    )
    withdrawn = make_item(cast.round, title="重复录入")
    workflow.withdraw(withdrawn, by=cast.alice, reason="重复")
    d = closed_item(cast, "操场积水")
    client.force_login(cast.alice)
    rows = [
        [1, a.number, "", "满意", "", ""],  # row 3: fine
        [2, "2019-9999", "", "满意", "", ""],  # 4: no such item
        [3, withdrawn.number, "", "满意", "", ""],  # 5: withdrawn
        [4, open_item.number, "", "不满意", "", ""],  # 6: not closed out
        [5, a.number, "", "不满意", "", ""],  # 7: the same item again
        [6, b.number, "", "较满意", "", ""],  # 8: not one of the three words
        [7, c.number, "", "", "没打通", ""],  # 9: no rating
        [8, "", "", "满意", "", ""],  # 10: no number
        [9, d.number + " ", "", "满意", "很长" * 1001, ""],  # 11: the comment is too long
    ]
    with override("en"):
        client.cookies["django_language"] = "en"
        response = upload(client, sheet(rows))
    assert response.status_code == 400
    refused = refusals(response)
    assert sorted(refused) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert refused[4] == ["no item of 2019年度 has the number “2019-9999”"]
    assert refused[5] == [f"item {withdrawn.number} is withdrawn (作废): it is not rated"]
    assert refused[6] == [
        f"item {open_item.number} is not closed out (it is “Assigned”): only closed-out items "
        "are rated"
    ]
    assert refused[7] == [f"item {a.number} is rated on row 3 already: one row per item"]
    assert refused[8] == ["“较满意” is not a rating: write 满意, 基本满意 or 不满意"]
    assert refused[9] == ["the rating is empty: write 满意, 基本满意 or 不满意"]
    assert refused[10] == ["the item number is empty"]
    assert refused[11] == ["the comment is longer than 2,000 characters"]
    page = response.content.decode()
    assert "“较满意” is not a rating" in page
    # No way to confirm a sheet with a refused row, and no file kept for one.
    assert reverse("supervision:review-confirm") not in page
    assert stored() == []
    assert not Rating.objects.exists() and not ReviewBatch.objects.exists()
    assert not Event.objects.filter(kind="rate").exists()
    assert all(i.satisfaction == "" for i in Item.objects.all())


def test_an_item_reopened_between_preview_and_confirm_refuses_the_whole_import(client, cast, three):
    a, b, _c = three
    client.force_login(cast.alice)
    response = upload(
        client, sheet([[1, a.number, "", "满意", "", ""], [2, b.number, "", "满意", "", ""]])
    )
    assert response.status_code == 200
    workflow.reopen(Item.objects.get(pk=b.pk), by=cast.alice, reason="复查发现问题反弹")
    refused = confirm(client, response)
    assert refused.status_code == 409
    assert sorted(refusals(refused)) == [4]
    assert not Rating.objects.exists() and not ReviewBatch.objects.exists()
    assert Item.objects.get(pk=a.pk).satisfaction == ""
    assert stored() == []


def test_cancel_writes_nothing_and_deletes_the_upload(client, cast, three):
    client.force_login(cast.alice)
    response = upload(client, sheet([[1, three[0].number, "", "满意", "", ""]]))
    assert len(stored()) == 1
    cancelled = confirm(client, response, cancel="1")
    assert cancelled.status_code == 302
    assert stored() == [] and not ReviewBatch.objects.exists()
    # The token is spent: confirming it afterwards finds nothing waiting.
    again = confirm(client, response)
    assert again.status_code == 302 and again["Location"] == reverse("supervision:review-import")
    assert not ReviewBatch.objects.exists()


# --- Files refused whole, and the round ---------------------------------------------------------


def reader_message(data: bytes, name: str) -> str:
    """What the intake's reader says of a file, in the page's language."""
    with override("zh-hans"):
        try:
            read_table(data, name, fields=reviews.FIELDS, required="rating")
        except IntakeError as error:
            return str(error)
    raise AssertionError("the reader accepted the file")


@pytest.mark.parametrize(
    "data, name",
    [
        (build.png(), "结果.xlsx"),
        (build.damaged_xlsx(), "结果.xlsx"),
        (b"<html><table><tr><td>2019-0001</td></tr></table></html>", "结果.xls"),
        (build.xlsx([["编号", "联系电话"], ["2019-0001", "138"]]), "结果.xlsx"),
    ],
    ids=["a picture", "a damaged workbook", "a web page named .xls", "no column of ratings"],
)
def test_a_file_the_reader_refuses_gets_its_message(client, cast, data, name):
    client.force_login(cast.alice)
    response = upload(client, data, name=name)
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [reader_message(data, name)]
    assert stored() == [] and not ReviewBatch.objects.exists()


def test_a_sheet_without_item_numbers_is_refused_with_what_to_add(client, cast):
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    response = upload(client, build.xlsx([["问题", "评价"], ["学校", "满意"]]))
    assert response.status_code == 400
    (error,) = response.context["form"].errors["file"]
    assert "none of item numbers" in error and "事项编号" in error


def test_the_round_is_read_from_the_numbers_or_asked_for(client, cast, three):
    other_round = make_round(name="2020年度", code="2020", year=2020)
    other = closed_item(cast, "路灯不亮", round=other_round)
    a = three[0]
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    both = sheet([[1, a.number, "", "满意", "", ""], [2, other.number, "", "满意", "", ""]])
    response = upload(client, both)
    assert response.status_code == 400
    (error,) = response.context["form"].errors["round"]
    assert "2019年度、2020年度" in error
    # The round chosen, the other round's row is refused by its number.
    chosen = upload(client, both, round=other_round)
    assert refusals(chosen) == {3: [f"no item of 2020年度 has the number “{a.number}”"]}
    # Numbers in no round's numbering: the round must be chosen.
    response = upload(client, sheet([[1, "A-12", "", "满意", "", ""]]))
    assert "Choose the round" in response.context["form"].errors["round"][0]
    # A refused form keeps the round chosen.
    kept = upload(client, build.png(), round=other_round)
    assert f'<option value="{other_round.pk}" selected>' in kept.content.decode()


def test_a_rounds_intake_page_leads_to_its_review_import_with_the_round_chosen(client, cast):
    client.force_login(cast.alice)
    hub = client.get(reverse("intake:round", args=[cast.round.pk])).content.decode()
    link = f"{reverse('supervision:review-import')}?round={cast.round.pk}"
    assert link in hub
    page = client.get(link).content.decode()
    assert f'<option value="{cast.round.pk}" selected>' in page


# --- Who may, and the item page -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, method, supervisor_gets",
    [
        ("supervision:reviews", "get", 200),
        ("supervision:review-import", "get", 200),
        ("supervision:review-import", "post", 400),  # no file sent
        ("supervision:review-confirm", "post", 302),  # no upload waiting
    ],
)
def test_only_supervisors_may_import(client, cast, three, name, method, supervisor_gets):
    url = reverse(name)
    send = getattr(client, method)
    row = [1, three[0].number, "", "满意", "", ""]
    data = {"file": SimpleUploadedFile("r.xlsx", sheet([row]))} if method == "post" else None
    assert send(url).status_code == 302  # to sign in
    for user in (cast.bob, cast.lena, cast.nobody):
        client.force_login(user)
        assert send(url, data).status_code == 404
    assert not ReviewBatch.objects.exists() and stored() == []
    client.force_login(cast.alice)
    assert send(url).status_code == supervisor_gets


def test_the_item_page_shows_its_ratings_newest_first_escaped(client, cast, three):
    a = three[0]
    client.force_login(cast.alice)
    confirm(
        client, upload(client, sheet([[1, a.number, "", "基本满意", "第一次：<b>还行</b>", ""]]))
    )
    confirm(client, upload(client, sheet([[1, a.number, "", "不满意", "第二次：仍然拥堵", ""]])))
    for user in (cast.alice, cast.bob, cast.lena):
        client.force_login(user)
        page = client.get(reverse("ledger:item", args=[a.pk])).content.decode()
        assert page.index("第二次：仍然拥堵") < page.index("第一次：&lt;b&gt;还行&lt;/b&gt;")
        assert "<b>还行" not in page
        batch = ReviewBatch.objects.latest("pk")
        assert f"{timezone.localtime(batch.imported_at):%Y-%m-%d}" in page
    # An item never rated shows no such section.
    client.force_login(cast.alice)
    plain = client.get(reverse("ledger:item", args=[three[1].pk]))
    assert "ratings-h" not in plain.content.decode()
    assert "ratings-h" in client.get(reverse("ledger:item", args=[a.pk])).content.decode()
