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
