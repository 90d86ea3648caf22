"""Masking of personal details (脱敏) in citizens' texts before they reach the public.

``mask(text, terms=..., keep=...)`` finds personal details — names where the text marks
them, mobile and landline numbers, ID card and bank card numbers, e-mail addresses, car
plates, house addresses below the road or village — and replaces each with the form that
government notices use (138****1234, 45**************23X, 黄**, 东葛路****). It is a pure
function: the same text, terms and keep always give the same result. docs/masking.md states
every rule with an example and what is never masked.

The rules run on a copy of the text in which full-width digits, letters and the few
punctuation marks that numbers use (＋－（）＠．) are folded to ASCII one character for one
character, so every offset found in the copy is an offset in the original, and a number
typed with an input method's full-width digits is found like any other.

Rules propose candidate spans; a candidate is taken unless it overlaps one already taken
by a rule of higher priority (an ID card number is never read as a bank card or a phone).
Terms the supervisor adds win over everything and swallow any span they touch; substrings
the supervisor keeps veto every span that overlaps them.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

__all__ = ["KINDS", "KIND_LABELS", "Masked", "Span", "mask"]

KIND_LABELS: dict[str, Promise] = {
    "name": _("Personal name"),
    "mobile": _("Mobile number"),
    "landline": _("Landline number"),
    "id_card": _("ID card number"),
    "email": _("E-mail address"),
    "bank_card": _("Bank card number"),
    "plate": _("Car plate"),
    "address": _("Home address"),
    "term": _("Masked term"),
}
KINDS = tuple(KIND_LABELS)

STARS = "****"


@dataclass(frozen=True)
class Span:
    start: int  # offsets in the original text
    end: int
    kind: str
    original: str
    replacement: str


@dataclass(frozen=True)
class Masked:
    text: str
    spans: tuple[Span, ...]
    source: str = field(default="", repr=False, compare=False)

    def html(self) -> SafeString:
        """The masked text, escaped, each replacement in a ``<mark>`` naming its kind.

        Only replacements are shown, never the original: the preview may be seen over a
        shoulder, and the supervisor reads the original in the ledger."""
        parts: list[str] = []
        pos = 0
        for span in self.spans:
            parts.append(escape(self.source[pos : span.start]))
            parts.append(
                f'<mark class="masked masked-{span.kind}" '
                f'title="{escape(KIND_LABELS[span.kind])}">{escape(span.replacement)}</mark>'
            )
            pos = span.end
        parts.append(escape(self.source[pos:]))
        return mark_safe("".join(parts))  # every piece above is escaped

    @property
    def counts(self) -> dict[str, int]:
        """How many spans of each kind, in the order of ``KINDS``; kinds not found left out."""
        found = Counter(span.kind for span in self.spans)
        return {kind: found[kind] for kind in KINDS if found[kind]}

    def __str__(self) -> str:
        return self.text


# -- folding -------------------------------------------------------------------------------

_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
        "＋": "+",
        "－": "-",
        "（": "(",
        "）": ")",
        "＠": "@",
        "．": ".",
        "　": " ",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)

# -- names ---------------------------------------------------------------------------------


def _words(spaced: str) -> tuple[str, ...]:
    """The words of a space-separated list: long lists of Chinese words stay readable."""
    return tuple(spaced.split())


# The common single surnames (about 320, in rough order of frequency) and the compound ones
# still in use. A name is only looked for where the text marks one, so a surname that is
# also an ordinary word (高, 关, 方 …) does little harm; the rare surnames that mostly start
# ordinary words after 群众/居民 (路线, 楼道, 幸福, 海边, 平时 …) are left out on purpose.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳"
    "翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝"
    "游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党"
    "宫费卜冷晏席卫米柏宗瞿桂佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明"
    "佘查麻苑迟邝官封匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺闻厉仝郜阚屠朴廉禹"
    "祖漆巴丰卿狄宣晋扈晁芮阙戈伏鹿邸雍辜裘亓修邰赫杭况宿逯茹诸慕嵇湛宾戎勾茅尉"
    "凤洪钮"
)
COMPOUND_SURNAMES = _words(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 西门 "
    "南宫 独孤 百里 呼延 太史 申屠 万俟 闻人 澹台 公冶 宗政 濮阳 淳于 单于 钟离 赫连 拓跋 "
    "司空 东郭 左丘 梁丘 段干 第五"
)

# Words that name a citizen just before their name (村民陈建华, 姓名：黄某).
NAME_MARKERS = _words(
    "姓名 联系人 反映人 投诉人 举报人 来电人 来信人 留言人 当事人 申请人 信访人 求助人 "
    "村民 居民 市民 群众 业主 老人 患者 病人 学生家长 家长 本人 我是 我叫 名叫 户主 住户 租户 "
    "农户 贫困户 低保户 五保户 残疾人 网民 网友 老板 师傅 司机 职工 工人 农民工 老兵 "
    "退役军人 孤儿 留守儿童"
)
# Words that follow a name (黄建华先生, 李秀英阿姨).
NAME_TITLES = _words(
    "先生 女士 同志 老师 师傅 阿姨 大爷 大妈 大娘 大姐 大哥 老人家 老伯 伯伯 奶奶 爷爷 "
    "婆婆 医生 律师 老板 小姐 姑娘"
)
# What may follow a marked name: a stop, a space, a digit, or one of these words.
_AFTER_NAME = _words(
    "反映 说 称 表示 投诉 举报 来电 来信 留言 家 的 等 一家 夫妇 夫妻 住 今年 现年 是 在 向 "
    "于 和 与 及 因 要求 建议 希望 也 都 多次 曾 电话 手机 身份证 联系 户 之 从 被 把 已 "
    "年 岁 男 女 一 两 二 三 四 五 六 七 八 九 十 等人 同志 先生 女士 反应 诉 讲 问 找 去 来"
)
# Characters that do not occur in given names but do occur in ordinary words after a marker.
_NOT_GIVEN = frozenset(
    "的了们是在有和与及等都也就还又很太不没被把对向从到给让说反映要会能可这那些个各每其所以"
    "为而但如果因某里区县市镇乡村路街巷楼栋号室单元组队户委会员站点所局厅处科办府部司校院"
    "病吗呢吧啊呀哦嗯么啥怎谁哪什着过次件条项岁感度线率性制费款证卡险群人族"
)
# Two-character words that would read as a given name after a surname-like character.
_NOT_GIVEN_WORDS = frozenset(
    _words(
        "主任 科长 局长 书记 校长 院长 所长 站长 队长 组长 部长 处长 经理 主管 老板 同志 先生 女士 "
        "代表 意见 利益 生活 出行 安全 方便 满意 关注 关心 群体 权益 健康 需求 诉求 反映 反应 "
        "期盼 期待 呼声 来访 信访 上访 平安 安居 文化 文明 明白 强烈 高兴 成本 成效 时间 全面 "
        "金钱 江边 海边 路边 路上 路灯 路口 路面 房子 房屋 房租 车辆 车位 车子 车费 宁静 宁愿 "
        "华侨 国家 国庆 云集 容易 温暖 温度 康复 常常 常年 安装 安置 向来 明显 明年 明天 平时 "
        "平常 高度 高速 高峰 关于 关系 关门 周边 周末 周围 武装 任务 任何 齐心 乐意 乐观 习惯 "
        "苏醒 易懂 解决 解释 解答 单位 单独 师生 邱陵 伍员 林地 林业 江河 石头 金额 金融 "
        "包括 宗教 尚未 时候 时常 全部 全体 全家 华人 海南 南方 班级 门口 门前 都是 都有 都要 "
        "计划 相关 相信 初中 初步 信息 信用 展开 富裕 卫生 米粉 毛病 万一 于是 成员 成本 成立 "
        "司机 农民 房东 车主 包工 工头 党员 钟点 江湖 金牌 商人 高中 高三 高二 高一 高龄 "
        "孤寡 孤儿 单亲 单身 独居 退休 下岗 失业 温州 贺州 柳州 钦州 梧州 广州 苏州 常州"
    )
)
# 司机师傅, 老人家: a title right after a marker is not a name.
_NOT_GIVEN_WORDS |= {t[:2] for t in NAME_TITLES} | {m[:2] for m in NAME_MARKERS}
_SURNAME_ALT = "|".join([*COMPOUND_SURNAMES, "[" + "".join(sorted(SURNAMES)) + "]"])
_CJK = "\u4e00-\u9fff\u3400-\u4dbf"
_NAME_AT = re.compile(rf"(?P<surname>{_SURNAME_ALT})(?P<given>[{_CJK}]{{1,2}})")
_MARKER_RE = re.compile(
    "(?:" + "|".join(sorted(NAME_MARKERS, key=len, reverse=True)) + r")[:：\s]{0,2}"
)
_TITLE_RE = re.compile("|".join(sorted(NAME_TITLES, key=len, reverse=True)))
# "我是新民村的陈建华" / "我是大塘镇的李秀英，": a name right after a self-introduction.
_SELF_RE = re.compile(rf"我是[{_CJK}]{{1,14}}?的")
_AFTER_RE = re.compile(
    r"(?:[^" + _CJK + r"]|$|" + "|".join(sorted(_AFTER_NAME, key=len, reverse=True)) + ")"
)
# Before a name that a title follows: a stop, the start, or a word that ends a phrase.
_BEFORE_TITLE_NAME = frozenset("的了是叫找和与跟向给位被让请问说对及或称为")


def _given_ok(surname: str, given: str) -> bool:
    return (
        not any(c in _NOT_GIVEN for c in given)
        and given not in _NOT_GIVEN_WORDS
        and (surname[-1] + given[0]) not in _NOT_GIVEN_WORDS
    )


def _name_at(norm: str, pos: int, *, titled: bool = False) -> tuple[int, int] | None:
    """The end of the surname and of the name starting at ``pos``, if a name starts there."""
    m = _NAME_AT.match(norm, pos)
    if not m:
        return None
    s_end = m.end("surname")
    given = m.group("given")
    # Prefer the two-character given name, then the one-character one.
    for size in (2, 1) if len(given) == 2 else (1,):
        g = given[:size]
        end = s_end + size
        if not _given_ok(m.group("surname"), g):
            continue
        if titled:
            if _TITLE_RE.match(norm, end):
                return s_end, end
        elif _AFTER_RE.match(norm, end):
            return s_end, end
    return None


def _names(norm: str) -> Iterable[tuple[int, int, str, str]]:
    for m in _MARKER_RE.finditer(norm):
        start = m.end()
        # 村民陈建华、李秀英和黄国平反映: the names listed after one marker, each masked.
        while found := _name_at(norm, start):
            yield start, found[1], "name", norm[start : found[0]] + "**"
            if found[1] < len(norm) and norm[found[1]] in "、和与及":
                start = found[1] + 1
            else:
                break
    for m in _SELF_RE.finditer(norm):
        found = _name_at(norm, m.end())
        if found and (found[1] == len(norm) or not ("\u4e00" <= norm[found[1]] <= "\u9fff")):
            yield m.end(), found[1], "name", norm[m.end() : found[0]] + "**"
    for m in _TITLE_RE.finditer(norm):
        # Try the name lengths that can end here: surname 1–2 characters, given 1–2. A name
        # whose first character is also a preposition (向, 和 …) yields to the shorter one:
        # 向雷锋同志 is 雷锋 after 向.
        names = []
        for size in (4, 3, 2):
            start = m.start() - size
            if start < 0:
                continue
            before = norm[start - 1] if start else ""
            if before and "\u4e00" <= before <= "\u9fff" and before not in _BEFORE_TITLE_NAME:
                continue
            found = _name_at(norm, start, titled=True)
            if found and found[1] == m.start():
                names.append((start, found[0]))
        if names:
            start, s_end = next(
                (n for n in names if norm[n[0]] not in _BEFORE_TITLE_NAME), names[0]
            )
            yield start, m.start(), "name", norm[start:s_end] + "**"


# -- numbers -------------------------------------------------------------------------------

_SEP = r"[ \-]?"
_MOBILE_RE = re.compile(
    rf"(?<![0-9A-Za-z])(?:(?:\+|00)?86{_SEP})?(?P<n>1[3-9][0-9]{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}})"
    r"(?![0-9])"
)
_LANDLINE_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:\((?P<a1>0[1-9][0-9]{1,2})\)\s?|(?P<a2>0[1-9][0-9]{1,2})-|"
    r"(?P<a3>0(?:10|2[0-9]|[3-9][0-9]{2})))(?P<local>[1-9][0-9]{6,7})(?![0-9])"
)
# A local number without its area code, where the text says it is a phone number.
_LOCAL_RE = re.compile(
    r"(?:电话|座机|固话|联系方式|tel|TEL|Tel)(?:号码)?[是为:：\s]{0,3}(?P<local>[2-8][0-9]{6,7})"
    r"(?![0-9])"
)
_ID_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"[1-9][0-9]{5} ?(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]) ?"
    r"[0-9]{3}[0-9Xx]"
    r"|[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}"
    r")(?![0-9A-Za-z])"
)
_CARD_RE = re.compile(
    r"(?<![0-9A-Za-z])[0-9]{4}(?:[ \-]?[0-9]{4}){3}(?:[ \-]?[0-9]{1,3})?(?![0-9])"
)
_CARD_WORDS = re.compile(r"(?:银行卡|卡号|账号|帐号|账户|帐户|存折|社保卡)[号码]?[是为:：\s]{0,3}$")
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+\-]*)@"
    r"(?P<domain>[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})(?![A-Za-z0-9])"
)
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_RE = re.compile(
    rf"(?P<head>[{_PROVINCES}][A-HJ-NP-Z])(?P<tail>[·•・.\- ]?[A-HJ-NP-Z0-9]{{5,6}}"
    r"|[·•・.\- ]?[A-HJ-NP-Z0-9]{4}[学警挂港澳领])(?![A-Za-z0-9])"
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _star_digits(s: str, keep_head: int, keep_tail: int) -> str:
    """``s`` with its digits starred except the first ``keep_head`` and last ``keep_tail``;
    separators stay where they are."""
    n = sum(c.isdigit() for c in s)
    out, i = [], 0
    for c in s:
        if c.isdigit():
            out.append(c if i < keep_head or i >= n - keep_tail else "*")
            i += 1
        else:
            out.append(c)
    return "".join(out)


_NUMBER_HINT = re.compile(r"[0-9]{3}|@")


def _numbers(norm: str, text: str) -> Iterable[tuple[int, int, str, str, int]]:
    """(start, end, kind, replacement, priority) for every number-like detail."""
    if not _NUMBER_HINT.search(norm):  # every rule below needs three digits in a row, or @
        return
    for m in _ID_RE.finditer(norm):
        raw = text[m.start() : m.end()]
        compact = [c for c in raw if c != " "]
        yield (
            m.start(),
            m.end(),
            "id_card",
            "".join(compact[:2]) + "*" * (len(compact) - 5) + "".join(compact[-3:]),
            0,
        )
    for m in _EMAIL_RE.finditer(norm):
        local = text[m.start("local") : m.end("local")]
        yield m.start(), m.end(), "email", local[0] + "***@" + text[m.start("domain") : m.end()], 1
    for m in _CARD_RE.finditer(norm):
        digits = re.sub(r"[ \-]", "", m.group())
        if 16 <= len(digits) <= 19 and (
            _luhn(digits) or _CARD_WORDS.search(norm, max(0, m.start() - 8), m.start())
        ):
            yield m.start(), m.end(), "bank_card", _star_digits(text[m.start() : m.end()], 4, 4), 2
    for m in _MOBILE_RE.finditer(norm):
        national = text[m.start("n") : m.end("n")]
        yield (
            m.start(),
            m.end(),
            "mobile",
            text[m.start() : m.start("n")] + _star_digits(national, 3, 4),
            3,
        )
    for m in _LANDLINE_RE.finditer(norm):
        local = text[m.start("local") : m.end("local")]
        yield (
            m.start(),
            m.end(),
            "landline",
            text[m.start() : m.start("local")] + "****" + local[4:],
            4,
        )
    for m in _LOCAL_RE.finditer(norm):
        local = text[m.start("local") : m.end("local")]
        yield m.start("local"), m.end("local"), "landline", "****" + local[4:], 4
    for m in _PLATE_RE.finditer(norm):
        tail = m.group("tail").lstrip("·•・.- ")
        if sum(c.isdigit() for c in tail) < 3:
            continue
        yield m.start(), m.end(), "plate", text[m.start() : m.start() + 2] + "*" * len(tail), 5


# -- addresses -----------------------------------------------------------------------------

_NUM = r"(?:[0-9]{1,5}(?:-[0-9]{1,5})?[A-Za-z]?|[A-Za-z][0-9]{0,3}|[一二三四五六七八九十]{1,3})"
_BLDG = rf"{_NUM}\s?(?:号楼|栋|幢|座|号院)"
_UNIT = rf"{_NUM}\s?单元"
_FLOOR = r"(?:[0-9]{1,3}|[一二三四五六七八九十]{1,3})\s?(?:层|楼)"
_ROOM = r"[0-9]{1,5}(?:-[0-9]{1,5})?[A-Za-z]?\s?(?:号房|室|房|户)"
_HOUSE = rf"{_NUM}\s?号(?:院|大院)?"
_HAMLET = rf"{_NUM}\s?(?:队|组|社|屯)"
_PART = rf"(?:{_BLDG}|{_UNIT}|{_ROOM}|{_FLOOR}|{_HOUSE})"
_ROAD_END = "(?:大道|大街|路|街|巷|胡同)"
# Words ending in 路/街 that are not a road's name: 线路3号站台 holds no address.
_NOT_ROADS = frozenset(
    _words("线路 马路 道路 铁路 电路 思路 出路 走路 修路 网路 套路 逛街 上街 满街 小巷")
)
# 东葛路118号…: the span starts at the house number and runs over the estate and building.
_ROAD_ADDR_RE = re.compile(
    rf"[{_CJK}]{_ROAD_END}(?P<addr>{_HOUSE}"
    rf"(?:\s?[{_CJK}A-Za-z]{{0,12}}?(?:{_PART}\s?)*(?:{_BLDG}|{_UNIT}|{_ROOM}|{_FLOOR}))?)"
)
# 新民村3队12号 / 新民村12号: a house in a village.
_VILLAGE_ADDR_RE = re.compile(
    rf"[村屯](?P<addr>(?:{_HAMLET}\s?)?{_HOUSE}(?:\s?{_PART})*)|村(?P<hamlet>{_HAMLET}\s?(?:{_HOUSE})?)"
)
# 阳光花园3栋2单元1101室: building, unit, room — two of them, or a room alone.
_BLDG_CHAIN_RE = re.compile(rf"(?:{_PART}\s?){{2,}}|(?:{_BLDG}\s?)?{_ROOM}|{_BLDG}")
_ADDR_TRIGGER = re.compile(r"(?:住址|地址|住在|家住|住|家在|家是|位于)[是为:：\s]{0,2}$")
# Where walking back over an estate name stops: administrative units and roads stay.
_ESTATE_STOP = frozenset("省市区县镇乡村路街巷道号住在是于到的我家址:：")


_ADDR_HINT = re.compile(
    r"[0-9一二三四五六七八九十A-Za-z]\s?(?:号|栋|幢|座|单元|层|楼|室|房|户|队|组|社|屯)"
)


def _addresses(norm: str) -> Iterable[tuple[int, int, str, str, int]]:
    if not _ADDR_HINT.search(norm):  # most texts hold no address: skip the slower scans
        return
    taken: list[tuple[int, int]] = []
    for rx in (_ROAD_ADDR_RE, _VILLAGE_ADDR_RE):
        for m in rx.finditer(norm):
            group = "addr" if m.group("addr") else "hamlet"
            begin, end = m.start(group), m.end(group)
            if norm[max(0, begin - 2) : begin] in _NOT_ROADS:
                continue
            # A building chain right after the house number belongs to the same address.
            tail = _BLDG_CHAIN_RE.match(norm, end)
            if tail:
                end = tail.end()
            yield begin, end, "address", STARS, 6
            taken.append((begin, end))
    for m in _BLDG_CHAIN_RE.finditer(norm):
        if any(a <= m.start() < b for a, b in taken):
            continue
        chain = m.group()
        strong = (
            len(re.findall(r"栋|幢|座|单元|室|号房|号楼|层|楼|户|房", chain)) >= 2
            or re.search(r"[0-9]{3,}\s?(?:室|号房)", chain) is not None
        )
        start = m.start()
        # Walk back over the estate's name to where the address starts.
        while start > 0 and m.start() - start < 12 and "\u4e00" <= norm[start - 1] <= "\u9fff":
            if norm[start - 1] not in _ESTATE_STOP:
                start -= 1
            elif norm[start - 2 : start] == "小区":
                # 富林小区 is the estate's name, not a district (玉州区) to keep.
                start -= 2
            else:
                break
        triggered = _ADDR_TRIGGER.search(norm, max(0, start - 6), start) is not None
        if not (strong or triggered):
            continue
        if not triggered and start < m.start():
            # Without 住/地址 before it, an estate name is kept unless the chain is strong.
            start = start if strong else m.start()
        yield start, m.end(), "address", STARS, 6


# -- terms and keep ------------------------------------------------------------------------


def _occurrences(text: str, words: Iterable[str]) -> list[tuple[int, int]]:
    found = []
    for word in {w for w in words if w and w.strip()}:
        i = text.find(word)
        while i != -1:
            found.append((i, i + len(word)))
            i = text.find(word, i + 1)
    return sorted(found)


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _overlaps(intervals: list[tuple[int, int]], starts: list[int], a: int, b: int) -> bool:
    """Whether [a, b) overlaps any of the sorted, non-overlapping ``intervals``."""
    i = bisect.bisect_left(starts, b)
    return i > 0 and intervals[i - 1][1] > a


# -- mask ----------------------------------------------------------------------------------


def mask(text: str, *, terms: Iterable[str] = (), keep: Iterable[str] = ()) -> Masked:
    """``text`` with its personal details masked; see the module docstring and
    docs/masking.md for the rules."""
    text = text or ""
    norm = text.translate(_FOLD)
    kept = _merge(_occurrences(text, keep))
    kept_starts = [a for a, _b in kept]

    candidates = [*_numbers(norm, text), *_addresses(norm)]
    candidates.extend((a, b, kind, repl, 7) for a, b, kind, repl in _names(norm))
    # Higher priority first; within one, earlier and then longer first.
    candidates.sort(key=lambda c: (c[4], c[0], c[0] - c[1]))

    taken: list[tuple[int, int]] = []
    starts: list[int] = []
    chosen: list[tuple[int, int, str, str]] = []
    for a, b, kind, repl, _prio in candidates:
        while b > a and text[b - 1].isspace():
            b -= 1
        if a >= b or _overlaps(kept, kept_starts, a, b) or _overlaps(taken, starts, a, b):
            continue
        i = bisect.bisect_left(starts, a)
        starts.insert(i, a)
        taken.insert(i, (a, b))
        chosen.append((a, b, kind, repl))

    terms_at = [
        (a, b)
        for a, b in _merge(_occurrences(text, terms))
        if not _overlaps(kept, kept_starts, a, b)
    ]
    if terms_at:
        # A term swallows every span it touches: the union is masked as one.
        term_starts = [a for a, _b in terms_at]
        swallowed = [(a, b) for a, b, _k, _r in chosen if _overlaps(terms_at, term_starts, a, b)]
        merged = _merge(terms_at + swallowed)
        merged_starts = [a for a, _b in merged]
        chosen = [c for c in chosen if not _overlaps(merged, merged_starts, c[0], c[1])]
        chosen.extend((a, b, "term", STARS) for a, b in merged)

    chosen.sort()
    spans = tuple(Span(a, b, kind, text[a:b], repl) for a, b, kind, repl in chosen)
    out: list[str] = []
    pos = 0
    for span in spans:
        out.append(text[pos : span.start])
        out.append(span.replacement)
        pos = span.end
    out.append(text[pos:])
    return Masked(text="".join(out), spans=spans, source=text)
