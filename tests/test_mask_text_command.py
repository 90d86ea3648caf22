"""``manage.py mask_text``: standard input in, the masked text out, spans on request."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import override

TEXT = "我是大塘镇新民村村民陈建华，电话13800001234，我家住阳光花园3栋2单元1101室。\n"


class FakeStdin(io.TextIOWrapper):
    """Standard input as a process gets it: bytes underneath (``.buffer``)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="ascii")


def run(data: bytes | str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    stdin = FakeStdin(data) if isinstance(data, bytes) else io.StringIO(data)
    with override("zh-hans"):
        call_command("mask_text", *args, stdin=stdin, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_the_text_masked():
    out, err = run(TEXT.encode())
    assert out == "我是大塘镇新民村村民陈**，电话138****1234，我家住****。\n"
    assert err == ""


def test_it_keeps_lines_and_blank_lines_as_they_came():
    out, _err = run("第一行 13800001234\n\n第三行\n".encode())
    assert out == "第一行 138****1234\n\n第三行\n"


def test_it_reads_utf8_whatever_the_locale_and_drops_a_bom():
    out, _err = run("\ufeff邮箱zhangsan@example.com".encode())
    assert out == "邮箱z***@example.com"


def test_show_lists_every_span_on_stderr():
    out, err = run(TEXT.encode(), "--show")
    assert out.startswith("我是大塘镇新民村村民陈**")
    lines = err.splitlines()
    assert lines[0] == "10-13\tname\t姓名\t陈建华 → 陈**"
    assert lines[1] == "16-27\tmobile\t手机号码\t13800001234 → 138****1234"
    assert lines[2] == "31-45\taddress\t住址\t阳光花园3栋2单元1101室 → ****"
    assert lines[3] == "已脱敏 3 处。"


def test_terms_are_masked_as_one_where_they_meet_and_keep_lifts_a_span():
    out, err = run(TEXT, "--term", "大塘镇", "--term", "新民村", "--keep", "陈建华", "--show")
    assert out == "我是****村民陈建华，电话138****1234，我家住****。\n"
    assert "term\t指定屏蔽内容\t大塘镇新民村 → ****" in err
    assert "陈建华 →" not in err


def test_empty_input_prints_nothing():
    assert run(b"", "--show") == ("", "已脱敏 0 处。\n")


def test_it_refuses_input_that_is_not_utf8():
    with pytest.raises(CommandError, match="标准输入不是 UTF-8 编码（第 2 字节）"):
        run("ok电话".encode("gbk"))


def run_en(data: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with override("en"):
        call_command("mask_text", *args, stdin=io.StringIO(data), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


POSSIBLE = "我叫黄海，加我vx：hjw88520，QQ 2783345601"


def test_it_masks_qq_and_wechat_ids_and_names_the_possible_names_it_flags():
    out, err = run_en(POSSIBLE)
    assert out == "我叫黄**，加我vx：h******0，QQ 2********1"
    assert err.splitlines() == [
        "Possible name at 2-4: 黄海 → 黄** (masked; --not-name 黄海 shows it, "
        "--name 黄海 confirms it)"
    ]


def test_show_lists_possible_names_qq_and_wechat_ids_with_their_kinds():
    _out, err = run_en(POSSIBLE, "--show")
    lines = err.splitlines()
    assert lines[1:] == [
        "2-4\tpossible_name\tPossible name\t黄海 → 黄**",
        "10-18\twechat\tWeChat ID\thjw88520 → h******0",
        "22-32\tqq\tQQ number\t2783345601 → 2********1",
        "3 spans masked.",
    ]


def test_a_possible_name_can_be_confirmed_or_dismissed_as_in_the_preview():
    out, err = run_en("我叫黄海。黄海说的没人听", "--name", "黄海")
    assert (out, err) == ("我叫黄**。黄**说的没人听", "")
    out, err = run_en("我叫黄海，住在城北", "--not-name", "黄海")
    assert (out, err) == ("我叫黄海，住在城北", "")
