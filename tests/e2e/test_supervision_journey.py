"""The supervision (督办考评) journey in a real browser, in Chinese, against a live server.

A supervisor opens the dashboard, clicks the overdue figure of one lead department and lands
on the ledger list of exactly those items. The daily proposal runs (as ``manage.py
propose_ladder`` would); the supervisor confirms every proposed 催办 step at once and is told
the numbers of the notices issued. The official of that department finds the urging in the
notifications, follows it to the item and opens its 督办通知; the official of another
department cannot open it. The next day's proposal circulates the escalated items that are
still not done: the supervisor confirms those steps, opens the 情况通报 and prints it, and
the PDF's first page is rendered to a picture and read back.

Every deadline is counted in working days back from today (``workdays.calendar``), so the
data is the same story whatever day the test runs. Screenshots of the dashboard (desktop and
phone), the ladder and the bulletin's first page are written to tests/e2e/screenshots/.
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image

from ledger import workflow
from ledger.models import Item, Notification
from ledger.supervision import ladder
from ledger.supervision.models import LadderStep, SupervisionNotice
from ledger.supervision.workdays import calendar

from ..factory import make_category, make_item, make_round
from .conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    SET_UP,
    horizontal_overflow,
    screenshot,
    sign_in,
)

try:
    from playwright.sync_api import Page, expect
except ImportError as error:  # a failure that says how to fix it, never a skip
    raise ImportError(f"The browser tests need the Python package playwright. {SET_UP}") from error

pytestmark = pytest.mark.e2e

Step = Item.LadderStep
# The share of a rendered page's pixels that are dark (text, table rules) in a page that
# shows its words: a blank or fontless render has next to none.
LEAST_INK = 0.01


def at(day: datetime.date, hour: int = 9) -> datetime.datetime:
    """That day at ``hour`` o'clock, local time: when the office did something."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


class Story:
    """The ledger of the journey, built on the shared cast (conftest ``cast``).

    The round of 2019 (the newest) holds, for 市教育局: two items a few working days late,
    one on time and one closed out long ago; for 市交通运输局 one late item shared with
    市教育局, so that the lead filter must tell them apart; one draft; and one item of each
    of the three departments escalated (挂牌督办) through the ladder, whose new deadline is
    the day of the first proposal. An older round holds one more late item of 市教育局,
    which the dashboard of the newest round does not count.
    """

    def __init__(self, cast) -> None:
        self.cast = cast
        work = calendar()
        self.today = timezone.localdate()
        # The daily proposal runs on working days: the last one up to today, and the one
        # before it, when the 催办 steps were proposed. The escalation came ten working days
        # (escalate_days by default) before that first day, so its new deadline is that day.
        last = self.today if work.is_workday(self.today) else work.add(self.today, -1)
        self.first_day, self.second_day = work.add(last, -1), last
        self.escalated_on = work.add(self.first_day, -10)
        assigned_at = at(work.add(self.escalated_on, -15))
        self.old_round = make_round(name="2018年度", code="2018", year=2018)
        # Each department's items under a category of their own, in each round.
        fields = {cast.edu: "教育事业", cast.traffic: "交通建设", cast.health: "卫生健康"}
        category = {
            (round_.pk, department): make_category(round_, name, order=n)
            for round_ in (cast.round, self.old_round)
            for n, (department, name) in enumerate(fields.items(), start=1)
        }

        def handed_over(round_, title, lead, deadline, *, co=(), started=False) -> Item:
            item = make_item(round_, title=title, category=category[round_.pk, lead])
            workflow.assign(
                item,
                by=cast.alice,
                leader=cast.leader,
                lead_department=lead,
                co_departments=list(co),
                deadline=deadline,
                at=assigned_at,
            )
            if started:
                official = {cast.edu: cast.bob, cast.traffic: cast.carol, cast.health: cast.dave}
                workflow.start(
                    item, by=official[lead], at=assigned_at + datetime.timedelta(hours=2)
                )
            return Item.objects.get(pk=item.pk)

        r = cast.round
        self.school_bus = handed_over(
            r,
            "校车接送线路少，偏远村屯学生上学难",
            cast.edu,
            work.add(self.first_day, -2),
            started=True,
        )
        self.canteen = handed_over(
            r, "学校食堂饭菜价格偏高", cast.edu, work.add(self.first_day, -4)
        )
        self.on_time = handed_over(r, "中小学课后服务时间过短", cast.edu, work.add(self.today, 20))
        self.crossing = handed_over(
            r,
            "学校门口缺少人行横道和减速带",
            cast.traffic,
            work.add(self.first_day, -3),
            co=[cast.edu],
            started=True,
        )
        self.closed = make_item(
            r,
            title="校园周边无证摊贩占道经营",
            category=category[r.pk, cast.edu],
            lead_department=cast.edu,
            leader=cast.leader,
            state=Item.State.CLOSED,
            outcome_kind="done",
            deadline=work.add(self.today, -30),
            closed_on=work.add(self.today, -32),
        )
        make_item(r, title="尚未交办的草稿事项")
        self.older = handed_over(
            self.old_round,
            "2018年度遗留：农村学校教师周转房不足",
            cast.edu,
            work.add(self.first_day, -1),
        )

        # Three items escalated on the escalation's day, ten working days after their
        # deadline, through the ladder itself: proposal, then confirmation that day.
        late = work.add(self.escalated_on, -10)
        self.escalated = [
            handed_over(r, "学生营养餐供应商资质不全", cast.edu, late, started=True),
            handed_over(r, "城区主干道公交站台破损", cast.traffic, late, started=True),
            handed_over(r, "社区卫生服务中心药品短缺", cast.health, late, started=True),
        ]
        ladder.propose(self.escalated_on)
        done = ladder.confirm(
            None, by=cast.alice, today=self.escalated_on, at=at(self.escalated_on, 10)
        )
        assert len(done.confirmed) == 3 and not done.stale
        for item in self.escalated:
            item.refresh_from_db()
            assert item.ladder_step == Step.ESCALATE
            assert item.deadline == self.first_day

    def overdue_numbers(self, department=None) -> set[str]:
        """The items of the newest round that are overdue today (in a department's hands,
        the deadline passed), as the data says; those ``department`` leads when given."""
        items = Item.objects.filter(
            round=self.cast.round, state__in=Item.OPEN_STATES, deadline__lt=self.today
        )
        if department is not None:
            items = items.filter(lead_department=department)
        return set(items.values_list("number", flat=True))


def office_label(choice) -> str:
    """A choice's label in the office's language, as the pages show it."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(choice.label)


def numbers_in(page: Page, cells: str) -> set[str]:
    return {text.strip() for text in page.locator(cells).all_inner_texts()}


def ink(png: Path) -> float:
    """The share of the picture's pixels that are dark."""
    grey = Image.open(png).convert("L")
    histogram = grey.histogram()
    return sum(histogram[:128]) / (grey.width * grey.height)


def test_supervision_from_the_dashboard_to_the_printed_bulletin(new_page, cast, tmp_path):
    story = Story(cast)
    edu_late = story.overdue_numbers(cast.edu)
    assert edu_late == {story.school_bus.number, story.canteen.number, story.escalated[0].number}

    # --- The dashboard: one department's overdue figure opens exactly its overdue items.
    page = new_page()
    sign_in(page, "alice")
    dashboard_url = reverse("supervision:dashboard")
    page.locator(f"nav.nav a[href='{dashboard_url}']").click()
    expect(page).to_have_url(re.compile(re.escape(dashboard_url) + "$"))
    expect(page.locator("#dash-round option[selected]")).to_have_text(cast.round.name)
    overdue_tile = page.locator(".dash-tiles a.tile-overdue .tile-n")
    expect(overdue_tile).to_have_text(str(len(story.overdue_numbers())))
    screenshot(page, "supervision-dashboard", DESKTOP)
    screenshot(page, "supervision-dashboard", PHONE)
    dashboard_overflow = horizontal_overflow(page)
    page.set_viewport_size(DESKTOP)

    by_department = page.locator("#by-department")
    by_department.locator("details.dash-table > summary").click()
    edu_row = by_department.locator("tbody tr").filter(
        has=page.locator("td.title a", has_text=cast.edu.name)
    )
    overdue_figure = edu_row.locator("a[href*='overdue=true']")
    expect(overdue_figure).to_have_text(str(len(edu_late)))
    overdue_figure.click()

    expect(page).to_have_url(re.compile(rf"/items/\?.*\blead={cast.edu.pk}\b"))
    expect(page).to_have_url(re.compile(r"\boverdue=true\b"))
    rows = page.locator("table.ledger tbody tr")
    expect(rows).to_have_count(len(edu_late))
    assert numbers_in(page, "table.ledger tbody td.num") == edu_late
    expect(page.locator("nav.tabs a[aria-current] .n")).to_have_text(str(len(edu_late)))
    expect(page.locator(".page-head p.muted")).to_contain_text(str(len(edu_late)))
    for other in (story.crossing, story.older, story.on_time, story.closed):
        expect(page.locator("table.ledger")).not_to_contain_text(other.number)

    # --- The first day's proposal: the late items are to be urged (催办), nothing else.
    proposal = ladder.propose(story.first_day)
    urged = [story.school_bus, story.canteen, story.crossing, story.older]
    assert proposal.new == {Step.URGE: len(urged)}

    ladder_url = reverse("supervision:ladder")
    page.locator(f"nav.nav a[href='{ladder_url}']").click()
    expect(page).to_have_url(re.compile(re.escape(ladder_url) + "$"))
    proposed = page.locator("table.ledger tbody tr")
    expect(proposed).to_have_count(len(urged))
    assert numbers_in(page, "table.ledger tbody td.num") == {item.number for item in urged}
    screenshot(page, "supervision-ladder", DESKTOP)

    # Every step waiting, at once.
    page.locator("button[name=every][value=confirm]").click()
    expect(page).to_have_url(re.compile(re.escape(ladder_url) + "$"))
    urge_notices = list(SupervisionNotice.objects.filter(kind=SupervisionNotice.Kind.URGE))
    assert len(urge_notices) == 2  # one per lead department: 市教育局 and 市交通运输局
    messages = page.locator(".messages")
    for notice in urge_notices:
        expect(messages).to_contain_text(notice.number)
    assert not LadderStep.objects.filter(status=LadderStep.Status.PROPOSED).exists()
    edu_notice = SupervisionNotice.objects.get(
        kind=SupervisionNotice.Kind.URGE, departments=cast.edu
    )
    edu_urged = {story.school_bus.number, story.canteen.number, story.older.number}

    # The notices issued, as the supervisor finds them: the two 督办通知 and the three
    # 挂牌督办通知 of the escalation.
    page.locator(f"main a[href='{reverse('supervision:notices')}']").first.click()
    listed = numbers_in(page, "table.ledger tbody td.num")
    assert listed == {n.number for n in SupervisionNotice.objects.all()}
    assert len(listed) == 5

    # --- The official of 市教育局 is told, and reads the 督办通知.
    official = new_page()
    sign_in(official, "bob")
    unread = Notification.objects.filter(recipient=cast.bob, read_at__isnull=True).count()
    notifications_url = reverse("ledger:notifications")
    bell = official.locator(f"nav.nav a[href='{notifications_url}']")
    expect(bell.locator(".badge-unread")).to_have_text(str(unread))
    bell.click()
    urgings = official.locator("li.notice").filter(
        has=official.locator(".notice-kind", has_text=office_label(Notification.Kind.URGE))
    )
    expect(urgings).to_have_count(len(edu_urged))
    assert {n.strip() for n in urgings.locator(".num").all_inner_texts()} == edu_urged
    urgings.filter(has_text=story.school_bus.number).locator(".notice-what a").click()
    expect(official).to_have_url(re.compile(rf"/items/{story.school_bus.pk}/$"))
    official.locator("#ladder-notices-h + ul").get_by_role(
        "link", name=re.compile(re.escape(edu_notice.number))
    ).click()
    notice_url = reverse("supervision:notice", args=[edu_notice.pk])
    expect(official).to_have_url(re.compile(re.escape(notice_url) + "$"))
    expect(official.locator("h1")).to_contain_text(edu_notice.number)
    expect(official.locator("main dl.fields")).to_contain_text(cast.edu.name)
    assert numbers_in(official, "table.ledger tbody td.num") == edu_urged
    expect(official.locator("table.ledger")).to_contain_text(story.school_bus.title)

    # Another department's official: not found, and not in their list of notices.
    other = new_page()
    sign_in(other, "carol")
    response = other.goto(notice_url)
    assert response is not None and response.status == 404
    other.goto(reverse("supervision:notices"))
    expect(other.locator("main")).not_to_contain_text(edu_notice.number)
    expect(other.locator("main")).to_contain_text(
        SupervisionNotice.objects.get(kind="urge", departments=cast.traffic).number
    )

    # --- The next working day's proposal: the escalated items past their new deadline are
    # circulated (通报).
    proposal = ladder.propose(story.second_day)
    assert proposal.new == {Step.CIRCULATE: len(story.escalated)}
    page.goto(ladder_url)
    steps = LadderStep.objects.filter(status=LadderStep.Status.PROPOSED, step=Step.CIRCULATE)
    assert {s.item_id for s in steps} == {item.pk for item in story.escalated}
    for step in steps:
        page.locator(f"#step-{step.pk}").check()
    page.locator("button[name=action][value=confirm]").click()
    bulletin = SupervisionNotice.objects.get(kind=SupervisionNotice.Kind.CIRCULATE)
    expect(page.locator(".messages")).to_contain_text(bulletin.number)
    names = [cast.edu.name, cast.traffic.name, cast.health.name]
    assert {d.name for d in bulletin.departments.all()} == set(names)

    page.goto(reverse("supervision:notices"))
    page.locator("table.ledger tbody td.num a", has_text=bulletin.number).click()
    expect(page.locator("h1")).to_contain_text(bulletin.number)
    for name in names:
        expect(page.locator("main dl.fields")).to_contain_text(name)
    assert numbers_in(page, "table.ledger tbody td.num") == {i.number for i in story.escalated}

    # Printed: the worker renders it (at once, under the tests' task backend) and the job's
    # page offers the file.
    page.locator(f"form[action='{reverse('supervision:notice-pdf', args=[bulletin.pk])}']").locator(
        "button"
    ).click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    with page.expect_download() as download:
        page.locator("a[href$='/download/']").click()
    assert download.value.suggested_filename.endswith(".pdf")
    pdf = tmp_path / "bulletin.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")

    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    flat = re.sub(r"\s+", "", text)
    assert "情况通报" in flat
    assert bulletin.number in flat
    for name in names:
        assert name in flat
    for item in story.escalated:
        assert item.number in flat

    # Every font is embedded, the Chinese ones among them: no reader's own fonts needed.
    fonts = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, check=True, text=True
    ).stdout.splitlines()[2:]
    assert any("CJK" in line for line in fonts)
    assert all(line.split()[-5] == "yes" for line in fonts), fonts

    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    (png,) = tmp_path.glob("page*.png")
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(png, SCREENSHOTS / "supervision-bulletin-page1.png")
    with Image.open(png) as picture:
        assert picture.height > picture.width  # an A4 page, upright
    assert LEAST_INK < ink(png) < 0.5, f"the bulletin's first page looks blank: {ink(png):.3f}"

    # Nothing on the phone needs sideways scrolling.
    assert dashboard_overflow == 0
