"""How alike two suggestions are, the way lexical retrieval measures it
(docs/consolidation.md, "How groups are proposed").

A text becomes a weighted vector of its words, as jieba segments them, and of its character
bigrams, which catch what segmentation splits differently and typos that change one
character. Each feature weighs by TF-IDF: the words every complaint uses (建议, 希望, 问题,
加强) weigh little, the ones that carry its topic (路灯, 停车难, 占道) much. The IDF is the
round's own, blended with jieba's general-language IDF while the round is too small to say
much by itself. Two texts are as alike as the cosine of their vectors.

Places keep items apart: the same complaint about two named places is two items. A place is
a name before a word that makes it one (镇, 村, 路, 小学, 市场 …), and only when that name is
not a word every text can use ("部分学校", "城区道路" name no place).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import jieba
import jieba.posseg as pseg
from jieba.analyse.tfidf import TFIDF

jieba.setLogLevel(logging.WARNING)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Characters that carry no meaning of their own in a complaint, and the words of the
# request itself (建议, 希望, 加强监管, 规范管理 …): in no feature, since they say what to do
# in the words every request uses, not what is wrong.
STOPWORDS = _words(
    """
    的 了 是 在 和 与 及 或 也 都 很 就 还 又 把 被 让 给 对 向 从 到 为 以 于 而 且 并 但 却 则 呢
    吗 吧 啊 呀 哦 嘛 么 着 过 得 地 之 其 此 这 那 这个 那个 这些 那些 这样 那样 一个 一些 我 我们
    你 你们 他 他们 她 它 大家 自己 有 有些 没 没有 不 要 会 能 可 可以 应 应该 需要 希望 建议 请
    请求 恳请 呼吁 反映 问题 情况 方面 相关 有关 部门 政府 领导 加强 进一步 尽快 及时 一下 一直 现在
    目前 已经 非常 特别 真的 真是 实在 能否 是否 如何 怎么 为什么 什么 多 些 还是 就是 但是 因为
    所以 如果 希望政府 建议政府 相关部门 有关部门 市民 群众 老百姓 我市 本市 全市 我们市 这边
    那边 这里 那里 一下 重视 监管 规范 行为 管理 整治 力度 加大 落实 完善 提高 提升 改善 推进 推动
    做好 抓好 切实 严格 严厉 查处 督促 引导 保障 措施 工作 力量 投入 支持 帮助 协调 解决 处理
    关注 考虑 研究 尽早 早日 给予 予以 进行 采取 有效
    """
)
# A feature of this many characters or more that is only digits is a phone or ID number.
LONG_NUMBER = 7
# Character bigrams count for this much of a word: they support, words decide.
BIGRAM_WEIGHT = 0.5
# A named place counts for this much of a word: shared, it says where, not what.
PLACE_WEIGHT = 0.3
# A round of this many texts weighs its own IDF as much as jieba's general one.
PRIOR_TEXTS = 200

_KEEP = re.compile(r"[0-9a-z\u4e00-\u9fff]+")
_CJK_OR_ALNUM = re.compile(r"[0-9a-z\u4e00-\u9fff]")

# --- Places ----------------------------------------------------------------------------------

# The words that make the name before them a place (新圩镇, 红星村, 中山路, 朝阳小学).
PLACE_WORDS = (
    "街道|社区|大道|小区|花园|中学|小学|幼儿园|学校|医院|卫生院|市场|农贸市场|园区|公园|广场"
    "|商场|车站|省|市|县|区|镇|乡|村|屯|路|街|巷|河|江|湖|桥|站|城|苑|湾|园|庄|寨"
)
# Every place word, overlapping; the name before it is found by places() below.
_PLACE_WORD = re.compile(rf"(?=({PLACE_WORDS}))")
# A name is two to four characters (红星, 人民中, 城南新), starting where jieba starts a word.
NAME_LENGTHS = (4, 3, 2)
# Names any text may put before a place word without naming a place: "部分学校" and
# "城区学校" are the same complaint about schools in general.
GENERIC = _words(
    """
    部分 城区 城市 市区 全市 我市 本市 周边 附近 一些 很多 许多 各个 各类 各级 所有 我们 我家
    农村 乡村 乡镇 城乡 偏远 老旧 新建 公立 私立 民办 公办 各地 当地 本地 有的 个别 多数 不少
    主要 重点 这些 那些 这个 那个 家门 门口 楼下 对面 旁边 沿街 背街 主干 次干 郊区 县城
    孩子 学生 小孩 大型 小型 中心 重要 一般 普通 正规 附属 社区 街道 小区 公共 农贸 菜市 停车
    马路 道路 公路 铁路 线路 出路 小路 大路 走路 修路 上路 过路 超市 城管 全县 全区 全镇 片区
    辖区 该区 该镇 该村 本村 本镇 本区 各区 各镇 各村 乡下 上学 放学 上下 整治 治理 管理 规范
    清理 监管 改造 完善 加大 提升 解决 处理 取缔 增设 设置 开通 新增 增开 建好 管好
    """
)
# What jieba tags a name that is a verb, adverb, pronoun, number or the like: no place
# ("缺少公园", "修建公园"), unless jieba reads name and place word as one word (解放路).
NOT_NAMES = frozenset({"v", "vn", "vd", "d", "r", "m", "mq", "p", "c", "u", "q", "t"})
# Before a facility (小学, 医院, 市场 …) a number or a verbal noun still names one: 第一中学,
# 实验小学; only a verb ("修建公园") or a function word does not.
_QUANTITY = re.compile(r"^[一二两三四五六七八九十几多每各好]+[所个家座条处间片些]?$|^[几多每各好]")
NOT_FACILITY_NAMES = frozenset({"v", "vd", "d", "r", "p", "c", "u", "q"})
# Words ending in a place word that are common nouns, not places ("道路", "公园" alone).
_COMMON = _words(
    """
    道路 马路 公路 铁路 线路 出路 小路 大路 走路 修路 上路 过路 进城 县城 城市 都市 超市 门市
    夜市 早市 菜市 街巷 小巷 河道 江湖 桥梁 车站 网站 公园 花园 校园 家园 乐园 庄园 田园 广场
    市场 商场 学校 医院 社区 街道 小区 园区 城区 市区 郊区 景区 山区 辖区 片区 老区 中学 小学
    """
)


@functools.lru_cache(maxsize=20_000)
def _is_name(name: str, word: str) -> bool:
    if name in GENERIC or name in STOPWORDS or _QUANTITY.match(name):
        return False
    if name + word in _COMMON or name[-1] + word in _COMMON:
        return False
    if name[-1] in "的了在和与及是":
        return False
    if name + word in jieba.dt.FREQ:
        return True  # one word to jieba: 解放路, 中山路, 新圩镇
    tagged = pseg.lcut(name)
    if any(w in GENERIC or w in STOPWORDS for w, _flag in tagged):
        return False
    tags = {flag for _w, flag in tagged}
    return not tags & (NOT_FACILITY_NAMES if len(word) > 1 else NOT_NAMES)


@functools.lru_cache(maxsize=20_000)
def places(text: str) -> frozenset[str]:
    """The named places a text mentions, read clause by clause so that a name never runs
    across a clause's end ("进城，路更堵了" names no 城路). Before each place word, the
    longest name that begins a word is taken: "希望政府" names no 望政府, "人民中路" is one
    road, "部分城区学校" names none."""
    found = set()
    for clause in re.split(r"[^\u4e00-\u9fff]+", fold(text)):
        starts = None
        for match in _PLACE_WORD.finditer(clause):
            at, word = match.start(), match.group(1)
            if at < 2:
                continue
            if starts is None:
                starts = {start for _w, start, _end in jieba.tokenize(clause)}
                starts.add(len(clause))
            if at + len(word) not in starts:
                continue  # the word goes on: 路灯 is no 路
            for length in NAME_LENGTHS:
                begin = at - length
                if begin >= 0 and begin in starts and _is_name(clause[begin:at], word):
                    found.add(clause[begin:at] + word)
                    break
    return frozenset(found)


def other_places(a: frozenset[str], a_text: str, b: frozenset[str], b_text: str) -> bool:
    """Each text names a place the other does not: the same complaint about two places.
    (A re-send that leaves out the address names fewer places, not others.)"""
    return any(p not in b_text for p in a) and any(p not in a_text for p in b)


# --- Features --------------------------------------------------------------------------------

_jieba_lock = threading.Lock()
_background: tuple[dict[str, float], float] | None = None


def background_idf() -> tuple[dict[str, float], float]:
    """jieba's general-language IDF of each word, and its median for a word it lacks."""
    global _background
    if _background is None:
        with _jieba_lock:
            if _background is None:
                tfidf = TFIDF()
                _background = (tfidf.idf_freq, tfidf.median_idf)
    return _background


_OFFICE = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:局|委员会|委|厅)")
_SPACED = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def fold(text: str) -> str:
    """Full-width forms folded and Latin lower-cased (NFKC), spaces between Chinese
    characters dropped ("北 流 市" is 北流市), punctuation kept: jieba reads clauses better
    with it."""
    return _SPACED.sub("", unicodedata.normalize("NFKC", text).lower())


def features(text: str) -> tuple[list[str], list[str]]:
    """(words, character bigrams) of a text, without the words that carry nothing. The
    words and bigrams of a named place, and the names of offices, are marked with a leading
    "@": they weigh less, since the place is checked apart (other_places) and two
    complaints about one place, or to one office, are still two complaints."""
    folded = fold(text)
    named = places(text)
    words = [
        w
        for w in jieba.lcut(folded, HMM=False)
        # A single character is too many words' part to be one: the bigrams carry it.
        if len(w) > 1
        and _CJK_OR_ALNUM.search(w)
        and w not in STOPWORDS
        and not (w.isdigit() and len(w) >= LONG_NUMBER)
    ]
    grams = []
    for run in _KEEP.findall(folded):
        if run.isdigit() and len(run) >= LONG_NUMBER:
            continue
        grams += [run[i : i + 2] for i in range(len(run) - 1)]
    # The office a suggestion addresses (市教育局) says who should act, not about what.
    aside = set(named) | set(_OFFICE.findall(folded))
    if aside:
        words = [f"@{w}" if any(w in p for p in aside) else w for w in words]
        grams = [f"@{g}" if any(g in p for p in aside) else g for g in grams]
    return words, grams


class Weights:
    """TF-IDF over a corpus of texts (a round's suggestions, and its items' titles)."""

    def __init__(self, corpus: Iterable[tuple[Sequence[str], Sequence[str]]]) -> None:
        self.word_df: Counter[str] = Counter()
        self.gram_df: Counter[str] = Counter()
        self.n = 0
        for words, grams in corpus:
            self.n += 1
            self.word_df.update(set(words))
            self.gram_df.update(set(grams))
        self.prior = PRIOR_TEXTS / (PRIOR_TEXTS + self.n)
        self.background, self.median = background_idf()

    def _own(self, df: int) -> float:
        return math.log((self.n + 1) / (df + 1)) + 1

    def word_idf(self, word: str) -> float:
        general = self.background.get(word, self.median)
        own = self._own(self.word_df.get(word, 0))
        return self.prior * general + (1 - self.prior) * own

    def gram_idf(self, gram: str) -> float:
        # No general IDF for bigrams: a small round weighs them all about alike.
        n = max(self.n, PRIOR_TEXTS)
        return math.log((n + 1) / (self.gram_df.get(gram, 0) + 1)) + 1

    def vector(self, words: Sequence[str], grams: Sequence[str]) -> dict[str, float]:
        """The unit TF-IDF vector of a text: words as themselves, bigrams marked by a tab."""
        v: dict[str, float] = {}
        for word, n in Counter(words).items():
            share = PLACE_WEIGHT if word[0] == "@" else 1.0
            v[word] = share * (1 + math.log(n)) * self.word_idf(word.lstrip("@"))
        for gram, n in Counter(grams).items():
            key = "\t" + gram
            share = BIGRAM_WEIGHT * (PLACE_WEIGHT if gram[0] == "@" else 1.0)
            v[key] = v.get(key, 0.0) + share * (1 + math.log(n)) * self.gram_idf(gram)
        norm = math.sqrt(sum(x * x for x in v.values()))
        return {k: x / norm for k, x in v.items()} if norm else {}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Of two unit vectors; the shared keys are found by a set intersection, in C."""
    return sum(a[k] * b[k] for k in a.keys() & b.keys())
