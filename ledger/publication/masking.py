"""Masking of personal details (脱敏) in citizens' texts before they reach the public.

``mask(text, terms=..., keep=..., names=..., not_names=...)`` finds personal details —
names where the words around them mark them, mobile and landline numbers, ID card and bank
card numbers, QQ numbers and WeChat IDs, e-mail addresses, car plates, house addresses below
the road or village — and replaces each with the form that government notices use
(138****1234, 45**************23X, 黄**, 东葛路****). A name the rules are unsure of is a
span of kind ``possible_name``: masked like a name unless the supervisor dismisses it
(``not_names``); one the supervisor confirmed (``names``) is masked wherever it occurs. It
is a pure function: the same text and lists always give the same result. docs/masking.md
states every rule with an example, what is never masked, and the known misses.

Names lean on jieba's dictionary (ordinary words are no names: 周边, 高铁, 方案) and, where
the rules are unsure, on its tagger's reading of the clause (``nr``), asked at most
``SEGMENTER_BUDGET`` times a text.

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
import functools
import itertools
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

__all__ = ["KINDS", "KIND_LABELS", "Masked", "Span", "mask"]

KIND_LABELS: dict[str, Promise] = {
    "name": _("Personal name"),
    # A name the rules are unsure of: masked unless the supervisor keeps it (docs/masking.md).
    "possible_name": _("Possible name"),
    "mobile": _("Mobile number"),
    "landline": _("Landline number"),
    "id_card": _("ID card number"),
    "email": _("E-mail address"),
    "bank_card": _("Bank card number"),
    "qq": _("QQ number"),
    "wechat": _("WeChat ID"),
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

# Words after which what follows is said to be a name (姓名：黄某, 我叫李明): a word of the
# dictionary there (我叫黄海) is still read as a name, but only a possible one.
DECLARING_MARKERS = _words(
    "姓名 联系人 反映人 投诉人 举报人 来电人 来信人 留言人 当事人 申请人 信访人 求助人 报案人 "
    "受害人 建议人 署名 落款 我叫 名叫 名字叫 名字是 叫做"
)
# Words that name a person just before their name (村民陈建华, 我老公刘德明, 店长徐丽娟).
NAME_MARKERS = DECLARING_MARKERS + _words(
    "村民 居民 市民 群众 业主 老人 患者 病人 学生家长 家长 本人 我是 户主 住户 租户 "
    "农户 贫困户 低保户 五保户 残疾人 网民 网友 老板 师傅 司机 职工 工人 农民工 老兵 "
    "退役军人 孤儿 留守儿童 叫 "
    # family, neighbours, acquaintances
    "老公 老婆 丈夫 妻子 爱人 父亲 母亲 爸爸 妈妈 我爸 我妈 老爸 老妈 儿子 女儿 孩子 小孩 "
    "孙子 孙女 外孙 外孙女 弟弟 妹妹 哥哥 姐姐 儿媳 儿媳妇 女婿 岳父 岳母 公公 婆婆 舅舅 叔叔 "
    "伯伯 姑姑 老伴 邻居 同事 朋友 同学 亲戚 房东 租客 包工头 工头 承包人 顾客 "
    # the people citizens name by their post (the post stays, the name goes)
    "村支书 支书 村主任 村长 组长 队长 主任 书记 镇长 乡长 校长 院长 园长 所长 站长 科长 局长 "
    "经理 店长 店主 摊主 厂长 会计 出纳 网格员 民警 警官 辅警 医生 护士 城管 保安 门卫 律师 "
    "教练 班主任 老师 接线员 客服 工作人员 负责人 经办人 法人 法定代表人"
)
# Words that follow a name (黄建华先生, 李秀英阿姨, 莫丽萍主任).
NAME_TITLES = _words(
    "先生 女士 同志 老师 师傅 阿姨 大爷 大妈 大娘 大姐 大哥 老人家 老伯 伯伯 奶奶 爷爷 "
    "婆婆 医生 律师 老板 小姐 姑娘 同学 老人 大叔 大伯 阿婆 叔叔 婶婶 "
    "主任 书记 校长 院长 局长 科长 所长 站长 村长 组长 队长 经理 护士 警官 会计"
)
# What may follow a marked name: a stop, a space, a digit, or one of these words.
_AFTER_NAME = _words(
    "反映 说 称 表示 投诉 举报 来电 来信 留言 家 的 等 一家 夫妇 夫妻 住 今年 现年 是 在 向 "
    "于 和 与 及 因 要求 建议 希望 也 都 多次 曾 电话 手机 身份证 联系 户 之 从 被 把 已 "
    "年 岁 男 女 一 两 二 三 四 五 六 七 八 九 十 等人 同志 先生 女士 反应 诉 讲 问 找 去 来 "
    "拖欠 欠 占 骂 打 还 开 收 让 不 没 他 她 态度 老人"
)
# What follows a name that opens a clause, unmarked, for the name to be read as one: a word
# of reporting or describing a person (黄建国反映, 韦建军家门口, 陈志强今年).
_PERSON_AFTER = _words(
    "反映 反应 说 称 讲 表示 投诉 举报 来电 来信 留言 诉称 求助 咨询 家 一家 夫妇 夫妻 全家 "
    "今年 现年 兄弟 姐妹 父子 父女 母子 母女 俩"
)
# Weaker: a name may be followed by these, and so may a company or a dish (柳钢, 汤粉): such
# a name is only a possible one, and only where the segmenter reads a person's name too.
_WEAK_AFTER = _words("也 都 被 因 和 与 跟 占 拖欠 欠 曾 已 还 多次 的")
# Characters that do not occur in given names but do occur in ordinary words after a marker.
_NOT_GIVEN = frozenset(
    "的了们是在有和与及等都也就还又很太不没被把对向从到给让说反映要会能可这那些个各每其所以"
    "为而但如果因某里区县市镇乡村路街巷楼栋号室单元组队户委会员站点所局厅处科办府部司校院"
    "病吗呢吧啊呀哦嗯么啥怎谁哪什着过次件条项岁感度线率性制费款证卡险群人族"
)
# A one-character given name that is rather a family or a form of address (黄家老人, 王总).
_NOT_SINGLE_GIVEN = frozenset("家氏总哥姐叔婶伯嫂")
# Two-character words that would read as a given name after a surname-like character.
_NOT_GIVEN_WORDS = frozenset(
    _words(
        "主任 科长 局长 书记 校长 院长 所长 站长 队长 组长 部长 处长 经理 主管 老板 同志 先生 女士 "
        "代表 意见 利益 生活 出行 安全 方便 满意 关注 关心 群体 权益 健康 需求 诉求 反映 反应 "
        "期盼 期待 呼声 来访 信访 上访 平安 安居 文化 文明 明白 强烈 高兴 成本 成效 时间 全面 "
        "金钱 江边 海边 路边 路上 路灯 路口 路面 房子 房屋 房租 车辆 车位 车子 车费 宁静 宁愿 "
        "华侨 国家 云集 容易 温暖 温度 康复 常常 常年 安装 安置 向来 明显 明年 明天 平时 "
        "平常 高度 高速 高峰 关于 关系 关门 周边 周末 周围 武装 任务 任何 齐心 乐意 乐观 习惯 "
        "苏醒 易懂 解决 解释 解答 单位 单独 师生 邱陵 伍员 林地 林业 江河 石头 金额 金融 "
        "包括 宗教 尚未 时候 时常 全部 全体 全家 华人 海南 南方 班级 门口 门前 都是 都有 都要 "
        "计划 相关 相信 初中 初步 信息 信用 展开 富裕 卫生 米粉 毛病 万一 于是 成员 成本 成立 "
        "司机 农民 房东 车主 包工 工头 党员 钟点 江湖 金牌 商人 高中 高三 高二 高一 高龄 "
        "孤寡 孤儿 单亲 单身 独居 退休 下岗 失业 温州 贺州 柳州 钦州 梧州 广州 苏州 常州"
    )
)
# 司机师傅, 老人家: a title right after a marker is not a name.
_NOT_GIVEN_WORDS |= {t[:2] for t in NAME_TITLES} | {m[:2] for m in NAME_MARKERS if len(m) > 1}
# A name does not run into the name of an estate or a household goods shop (金城家园), nor
# into a word that makes it a place (沙垌村, 黎明路, 向阳小区).
_NOT_AFTER_NAME = re.compile(
    "家(?:园|居|具|电|乐|政|私|纺)|小区|花园|社区|新村|公寓|大厦|广场|市场|学校|中学|小学"
    "|医院|公司|[村屯镇乡县市区路街巷道湾苑府城庄寨坝岭江河湖山桥站厂店]"
)
_SURNAME_ALT = "|".join([*COMPOUND_SURNAMES, "[" + "".join(sorted(SURNAMES)) + "]"])
_CJK = "\u4e00-\u9fff\u3400-\u4dbf"
_NAME_AT = re.compile(rf"(?P<surname>{_SURNAME_ALT})(?P<given>[{_CJK}]{{1,2}})")


def _alternation(words: Iterable[str]) -> str:
    """A pattern matching any of ``words``, the longest where several match, as a trie of
    their characters (村(?:民|主任|支书|长)|…): the regex engine tries a few branches at a
    position instead of every word, which keeps the scans of long word lists fast."""
    trie: dict = {}
    for word in set(words):
        node = trie
        for c in word:
            node = node.setdefault(c, {})
        node[""] = True

    def pattern(node: dict) -> str:
        branches = [re.escape(c) + pattern(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)


# A marker, then an optional ：or : or space, or 是/叫/为 (联系人是覃海燕, 邻居叫覃小梅).
_MARKER_RE = re.compile(
    f"(?P<marker>{_alternation(NAME_MARKERS)})(?:[是叫为][:：\\s]{{0,2}}|[:：\\s]{{0,2}})"
)
_TITLE_RE = re.compile(_alternation(NAME_TITLES))
# "我是新民村的陈建华" / "我是梧州人吴志坚，": a name right after a self-introduction.
_SELF_RE = re.compile(rf"我是[{_CJK}]{{1,14}}?(?:的|人)")
_AFTER_RE = re.compile(rf"(?:[^{_CJK}]|$|{_alternation(_AFTER_NAME + NAME_TITLES)})")
_PERSON_AFTER_RE = re.compile(_alternation(_PERSON_AFTER))
_WEAK_AFTER_RE = re.compile(_alternation(_WEAK_AFTER))
# 莫振华等5户村民: a name heading a list of households or people.
_HEADS_RE = re.compile(r"等[0-9一二两三四五六七八九十几多]{1,3}(?:户|人|名|位|家)")
# Before a name that a title follows: a stop, the start, or a word that ends a phrase.
_BEFORE_TITLE_NAME = frozenset("的了是叫找和与跟向给位被让请问说对及或称为由")
# Where an unmarked name may start: the start of the text or of a clause, or after a word
# that comes before a person (跟你们单位的甘小军说, 我去找了黎秀玲).
_CLAUSE_MARKS = "，。！？；：、,.!?;:（(【[“\"‘'「『《—…~～\\s"
_BEFORE_NAME = "的和与跟同找问叫让给被对向帮替请及或把由"
# (The mark is matched, not looked behind: a pattern that starts with a set of characters
# lets the engine skip ahead to the next one.)
_CLAUSE_NAME_RE = re.compile(rf"[{_CLAUSE_MARKS}{_BEFORE_NAME}](?={_SURNAME_ALT})")


# -- the dictionary: ordinary words and the segmenter's names ------------------------------
#
# jieba (already used by consolidation, pure Python, its dictionary inside the package) says
# which words are ordinary words (周边, 高铁, 方案, 金融, 叶子 …) and reads a clause to tag a
# person's name (``nr``). Both are loaded on first need, once per process.

_jieba_lock = threading.Lock()
_jieba: tuple[dict, dict, Callable] | None = None


def _dictionary() -> tuple[dict, dict, Callable]:
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba
                import jieba.posseg as pseg

                jieba.setLogLevel(logging.WARNING)
                jieba.dt.check_initialized()
                _jieba = (jieba.dt.FREQ, pseg.dt.word_tag_tab, pseg.lcut)
    return _jieba


# A word the dictionary tags as a person's name is still an ordinary word when it is this
# frequent (文明, 明白, 叶子, 洪水 are tagged nr); real names there are rare (王建国: 12).
_COMMON_NAME_FREQ = 300
# A word made of the surname and the first character of a two-character given name is an
# ordinary word from this frequency (高铁站, 江南一品, 万达广场), not from less (黄国平).
_COMMON_PREFIX_FREQ = 50


@functools.lru_cache(maxsize=50_000)
def _ordinary(word: str, least: int = 1) -> bool:
    """Whether the dictionary holds ``word`` as an ordinary word (not a rare name)."""
    freq_of, tags, _cut = _dictionary()
    freq = freq_of.get(word) or 0
    if freq < least:
        return False
    return not tags.get(word, "").startswith("nr") or freq >= _COMMON_NAME_FREQ


@functools.lru_cache(maxsize=20_000)
def _segmenter_names(clause: str) -> frozenset[tuple[int, int]]:
    """(start, end) of every stretch the segmenter reads as a name in ``clause``: a word
    tagged ``nr``, or a surname tagged ``nr`` and the word after it (覃 + 海燕)."""
    _freq, _tags, cut = _dictionary()
    found, pos, pending = set(), 0, None
    for word, flag in cut(clause):
        end = pos + len(word)
        if pending is not None:
            found.add((pending, end))
            pending = None
        if flag.startswith("nr"):
            found.add((pos, end))
            if (len(word) <= 2 and word[0] in SURNAMES) or word in COMPOUND_SURNAMES:
                pending = pos
        pos = end
    return frozenset(found)


# The segmenter reads a clause in about a millisecond, the masker's rules a whole text in a
# fraction of one: one text asks it at most this many times, whatever its length, so a
# 100,000-character text of names costs well under a second. Past that, the rules alone
# decide (a name a marker or a title marks is still masked). Every question counts, cached
# or not, so the same text always gets the same answers.
SEGMENTER_BUDGET = 64
_budget = threading.local()


def _ask_segmenter() -> bool:
    left = getattr(_budget, "left", SEGMENTER_BUDGET)
    _budget.left = left - 1
    return left > 0


def _segmenter_agrees(norm: str, start: int, end: int) -> bool:
    if not _ask_segmenter():
        return False
    a, b = start, end
    while a > 0 and start - a < 8 and _is_cjk(norm[a - 1]):
        a -= 1
    while b < len(norm) and b - end < 8 and _is_cjk(norm[b]):
        b += 1
    return (start - a, end - a) in _segmenter_names(norm[a:b])


def _is_cjk(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"


# -- finding names -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    s_end: int  # end of the surname
    end: int  # end of the name
    ordinary: bool  # the dictionary knows it as an ordinary word


def _options(norm: str, pos: int) -> list[_Option]:
    """The names that may start at ``pos``: the two-character given name first."""
    m = _NAME_AT.match(norm, pos)
    if not m:
        return []
    surname, given = m.group("surname"), m.group("given")
    s_end = m.end("surname")
    out = []
    for size in (2, 1) if len(given) == 2 else (1,):
        g = given[:size]
        if (
            any(c in _NOT_GIVEN for c in g)
            or g in _NOT_GIVEN_WORDS
            or (surname[-1] + g[0]) in _NOT_GIVEN_WORDS
            or (size == 1 and g in _NOT_SINGLE_GIVEN)
        ):
            continue
        ordinary = _ordinary(surname + g) or (
            size == 2 and _ordinary(surname[-1] + g[0], _COMMON_PREFIX_FREQ)
        )
        out.append(_Option(s_end, s_end + size, ordinary))
    return out


def _after_ok(norm: str, end: int) -> bool:
    return _AFTER_RE.match(norm, end) is not None and not _NOT_AFTER_NAME.match(norm, end)


def _span(norm: str, start: int, option: _Option, kind: str) -> tuple[int, int, str, str]:
    return start, option.end, kind, norm[start : option.s_end] + "**"


def _after_marker(norm: str, start: int, declaring: bool) -> tuple[int, int, str, str] | None:
    """The name after a marker. Where no word that follows names follows it (摊主陆伟强
    缺斤短两), the name is the one the segmenter reads there."""
    options = _options(norm, start)
    option = next((o for o in options if _after_ok(norm, o.end)), None)
    if option is None:
        option = next(
            (
                o
                for o in options
                if not o.ordinary
                and not _NOT_AFTER_NAME.match(norm, o.end)
                and _segmenter_agrees(norm, start, o.end)
            ),
            None,
        )
    if option is None or (option.ordinary and not declaring):
        return None  # 村民文明出行, 孩子高考的时候: an ordinary word, no name
    return _span(norm, start, option, "possible_name" if option.ordinary else "name")


# What may end a name that stands alone: not an opening quote or bracket, nor 、 (莫村、
# 沙美、培兰 are villages).
_NAME_STOPS = frozenset("，,。.！!？?；;：: \t\n\r0123456789")


def _unmarked(norm: str, start: int) -> tuple[int, int, str, str] | None:
    """A name opening a clause without a marker: certain before a word that reports or
    describes a person, possible where only the segmenter reads it as a name."""
    for option in _options(norm, start):
        if option.ordinary:
            continue
        end = option.end
        if _PERSON_AFTER_RE.match(norm, end) or _HEADS_RE.match(norm, end):
            if _NOT_AFTER_NAME.match(norm, end):
                continue
            agrees = _segmenter_agrees(norm, start, end)
            return _span(norm, start, option, "name" if agrees else "possible_name")
        if _WEAK_AFTER_RE.match(norm, end):
            if _segmenter_agrees(norm, start, end):
                return _span(norm, start, option, "possible_name")
            continue
        rest = norm[end : end + 3]
        if end == len(norm) or rest[0] in _NAME_STOPS:
            # A name standing alone: a signature (…谢谢！陆文斌), a name before a number
            # (莫丽芳 13507751122) or a description (陈志强，男，45岁).
            if not _segmenter_agrees(norm, start, end):
                continue
            certain = (
                end == len(norm)
                or re.match(r"\s*[0-9]", rest)
                or re.match(r"[，,、]\s*[男女]", rest)
            )
            return _span(norm, start, option, "name" if certain else "possible_name")
    return None


def _names(norm: str) -> Iterable[tuple[int, int, str, str]]:
    for found in _found_names(norm):
        yield found
        # 村民陈建华、李秀英和黄国平反映, 沈建华、沈建国兄弟俩: the names listed with it.
        end = found[1]
        while end < len(norm) - 1 and norm[end] in "、和与及":
            start = end + 1
            option = next(
                (
                    o
                    for o in _options(norm, start)
                    if not o.ordinary
                    and not _NOT_AFTER_NAME.match(norm, o.end)
                    and (_after_ok(norm, o.end) or _segmenter_agrees(norm, start, o.end))
                ),
                None,
            )
            if option is None:
                break
            yield _span(norm, start, option, found[2])
            end = option.end


def _found_names(norm: str) -> Iterable[tuple[int, int, str, str]]:
    for m in _MARKER_RE.finditer(norm):
        if found := _after_marker(norm, m.end(), m.group("marker") in DECLARING_MARKERS):
            yield found
    for m in _SELF_RE.finditer(norm):
        option = next(iter(_options(norm, m.end())), None)
        end = option.end if option else 0
        if option and not option.ordinary and (end == len(norm) or not _is_cjk(norm[end])):
            yield _span(norm, m.end(), option, "name")
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
            if before and _is_cjk(before) and before not in _BEFORE_TITLE_NAME:
                continue
            for option in _options(norm, start):
                if option.end == m.start() and not option.ordinary:
                    names.append((start, option))
        if names:
            start, option = next(
                (n for n in names if norm[n[0]] not in _BEFORE_TITLE_NAME), names[0]
            )
            yield _span(norm, start, option, "name")
    starts = (m.end() for m in _CLAUSE_NAME_RE.finditer(norm))
    for start in itertools.chain((0,), starts):
        if found := _unmarked(norm, start):
            yield found


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


# QQ numbers and WeChat IDs, where the text says which they are: QQ 2783345601, QQ号：…,
# 扣扣…, Q：…; 微信 lqj_1962, 微信号…, 威信/薇信/V信…, vx：…, wx…, 加V…. A WeChat ID that is
# a phone number is masked as the phone number it is.
_IM_CUE = (
    r"(?<![A-Za-z])(?:(?P<qq>(?:QQ|qq|Qq|qQ|扣扣|企鹅)(?:群|号码|号|账号|帐号)?|Q(?=\s?[:：号]))"
    r"|(?P<wechat>(?:微信|威信|薇信|徽信|[Vv]信|[Vv][Xx]|[Ww][Xx]|[Ww]ei[Xx]in|[Ww]e[Cc]hat"
    r"|加[Vv])(?:号码|号|账号|帐号|[Ii][Dd])?))"
)
_IM_RE = re.compile(
    _IM_CUE
    + r"(?:[\s:：]|[是为]|吧)*"
    + r"(?P<id>[A-Za-z0-9][A-Za-z0-9_\-]{3,29})(?![A-Za-z0-9_\-@.])"
)
_IM_HINT = re.compile(
    r"(?i:qq|vx|wx|weixin|wechat)|微信|威信|薇信|徽信|扣扣|企鹅|[Vv]信|加[Vv]|Q\s?[:：号]"
)


_IM_CHARS = re.compile("[QqVvWw微威薇徽扣企]")


def _im_ids(norm: str, text: str) -> Iterable[tuple[int, int, str, str, int]]:
    """QQ numbers and WeChat IDs: the first and last characters kept, one star for each
    character hidden (2783345601 → 2********1, lqj_1962 → l******2)."""
    if not _IM_CHARS.search(norm) or not _IM_HINT.search(norm):
        return
    for m in _IM_RE.finditer(norm):
        kind = "qq" if m.group("qq") else "wechat"
        ident = m.group("id")
        if kind == "qq" and not re.fullmatch(r"[1-9][0-9]{4,11}", ident):
            continue  # a QQ number is digits
        if kind == "wechat" and (len(ident) < 5 or ident.lower().startswith("http")):
            continue
        raw = text[m.start("id") : m.end("id")]
        yield m.start("id"), m.end("id"), kind, raw[0] + "*" * (len(raw) - 2) + raw[-1], 4


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
# A mobile number written in Chinese numerals (一三八七七五五二零四六), as some write it
# to get past filters.
_CN_DIGITS = "零〇一二三四五六七八九幺"
_CN_MOBILE_RE = re.compile(
    rf"[一幺](?<![{_CN_DIGITS}十百千万].)[三四五六七八九][{_CN_DIGITS}]{{9}}"
    rf"(?![{_CN_DIGITS}十百千万])"
)


def _numbers(norm: str, text: str) -> Iterable[tuple[int, int, str, str, int]]:
    """(start, end, kind, replacement, priority) for every number-like detail."""
    for m in _CN_MOBILE_RE.finditer(norm):
        yield m.start(), m.end(), "mobile", m.group()[:3] + "****" + m.group()[-4:], 3
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
    rf"[{_CJK}]{_ROAD_END}(?P<addr>(?P<house>{_HOUSE})"
    rf"(?:\s?[{_CJK}A-Za-z]{{0,12}}?(?:{_PART}\s?)*(?:{_BLDG}|{_UNIT}|{_ROOM}|{_FLOOR}))?)"
)
# 新民村3队12号 / 新民村12号: a house in a village.
_VILLAGE_ADDR_RE = re.compile(
    rf"[村屯](?P<addr>(?:{_HAMLET}\s?)?{_HOUSE}(?:\s?{_PART})*)|村(?P<hamlet>{_HAMLET}\s?(?:{_HOUSE})?)"
)
# 阳光花园3栋2单元1101室: building, unit, room — two of them, or a room alone.
_BLDG_CHAIN_RE = re.compile(rf"(?:{_PART}\s?){{2,}}|(?:{_BLDG}\s?)?{_ROOM}|{_BLDG}")
_ADDR_TRIGGER = re.compile(r"(?:住址|地址|住在|家住|住|家在|家是|位于)[是为:：\s]{0,2}$")
# A village's team or group alone (新民村3队) is an address only where someone lives there.
_LIVES_NEAR = re.compile(r"住址|地址|住在|家住|住|家在|家是")
# Where walking back over an estate name stops: administrative units and roads stay.
_ESTATE_STOP = frozenset("省市区县镇乡村路街巷道号住在是于到的我家址:：")
# What the segmenter tags a word that is no part of an estate's name (已对幸福小区…: 已, 对).
_NOT_ESTATE_TAGS = ("p", "d", "c", "r", "u")
# Public buildings: their floors, rooms and house numbers are nobody's home.
_PUBLIC = (
    r"(?:(?:政务|服务|市民|活动|文化|体育|会展|医疗|会议|指挥|救助|培训|检测|监测)中心"
    r"|大厅|办公楼|办事处|服务站|政府|委员会|法院|检察院|医院|卫生院|卫生室|学校|中学|小学"
    r"|幼儿园|派出所|银行|营业厅|图书馆|博物馆|体育馆|文化馆|纪念馆|车站|公司|局|委|馆)"
)
_PUBLIC_END = re.compile(_PUBLIC + "$")
_PUBLIC_AFTER = re.compile(rf"\s?[{_CJK}]{{0,10}}?{_PUBLIC}")
# 幸福路12号至36号: a stretch of a road, not a house.
_RANGE_AFTER = re.compile(rf"\s?(?:至|到|~|～|—|-)\s?{_NUM}\s?号")
# A room is someone's home: 1101室, 3号房; a 户 only with a building or unit (3栋501户),
# since alone it counts households (惠及企业263户).
_HOUSEHOLD = re.compile(
    r"[0-9]\s?(?:号房|室|房)|(?:栋|幢|座|单元|号楼)\s?[0-9]{1,5}(?:-[0-9]{1,5})?\s?户"
)


_ADDR_HINT = re.compile(
    r"[0-9一二三四五六七八九十A-Za-z]\s?(?:号|栋|幢|座|单元|层|楼|室|房|户|队|组|社|屯)"
)


@functools.lru_cache(maxsize=5_000)
def _estate_offset(stretch: str) -> int:
    """Where an estate's name starts in the ``stretch`` of text before a building: after
    the last word that cannot be part of one, a preposition, adverb, conjunction, pronoun
    or particle (已对幸福小区 → 幸福小区, 维修了明珠花园 → 明珠花园)."""
    _freq, _tags, cut = _dictionary()
    words = cut(stretch)
    offset = pos = 0
    for word, flag in words[:-1]:
        pos += len(word)
        if flag.startswith(_NOT_ESTATE_TAGS):
            offset = pos
    return offset


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
            if group == "hamlet" and not _LIVES_NEAR.search(norm, max(0, begin - 16), begin):
                continue  # 对新民村3队的线路进行改造: the team, not a house
            house_end = m.end("house") if rx is _ROAD_ADDR_RE else begin
            if rx is _ROAD_ADDR_RE and (
                _RANGE_AFTER.match(norm, house_end)
                or (
                    _PUBLIC_AFTER.match(norm, house_end)
                    and not _HOUSEHOLD.search(norm, house_end, end)
                )
            ):
                continue  # 幸福路12号至36号, 人民东路88号市民服务中心
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
        # A room is someone's home; a building, unit or floor alone is many homes (已对3栋
        # 2单元楼道进行清理) or an office (市行政审批局B座3楼), unless the text says someone
        # lives there.
        household = _HOUSEHOLD.search(chain) is not None
        start = m.start()
        # Walk back over the estate's name to where the address starts.
        while start > 0 and m.start() - start < 12 and _is_cjk(norm[start - 1]):
            if norm[start - 1] not in _ESTATE_STOP:
                start -= 1
            elif norm[start - 2 : start] == "小区":
                # 富林小区 is the estate's name, not a district (玉州区) to keep.
                start -= 2
            else:
                break
        if start < m.start():
            if _PUBLIC_END.search(norm, start, m.start()):
                continue  # 市政务服务中心3楼301室: a public office's room
            if _ask_segmenter():
                start += _estate_offset(norm[start : m.start()])
        triggered = _ADDR_TRIGGER.search(norm, max(0, start - 6), start) is not None
        if not (household or triggered):
            continue
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


def _surname_of(name: str) -> str:
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]


def mask(
    text: str,
    *,
    terms: Iterable[str] = (),
    keep: Iterable[str] = (),
    names: Iterable[str] = (),
    not_names: Iterable[str] = (),
) -> Masked:
    """``text`` with its personal details masked; see the module docstring and
    docs/masking.md for the rules.

    ``names`` are possible names the supervisor confirmed: masked as names (黄**) wherever
    they occur. ``not_names`` are possible names the supervisor dismissed: shown as they
    are where the rules only thought them possible. A possible name in neither list is
    masked, and its span says it is only possible (kind ``possible_name``)."""
    text = text or ""
    norm = text.translate(_FOLD)
    _budget.left = SEGMENTER_BUDGET
    kept = _merge(_occurrences(text, keep))
    kept_starts = [a for a, _b in kept]
    dismissed = {n for n in not_names if n}

    candidates = [*_numbers(norm, text), *_im_ids(norm, text), *_addresses(norm)]
    candidates.extend(
        (a, b, "name", _surname_of(text[a:b]) + "**", 7) for a, b in _occurrences(text, names)
    )
    candidates.extend(
        (a, b, kind, repl, 8)
        for a, b, kind, repl in _names(norm)
        if not (kind == "possible_name" and text[a:b] in dismissed)
    )
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
