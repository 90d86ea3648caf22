"""``ledger.publication.masking.mask``: what the public reads of a citizen's text.

Every rule with what it must mask and, as important for a public notice, what it must
leave alone: dates, amounts, document and item numbers, hotlines, ordinary numbers.
No database: ``mask`` is a pure function.
"""

from __future__ import annotations

import collections
import json
import re
import types
from pathlib import Path

import pytest
from django.utils.translation import override

from ledger.management.commands import seed_demo
from ledger.publication.masking import KIND_LABELS, Masked, Span, mask

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "demo.json"


def masked(text: str, **kw) -> str:
    return mask(text, **kw).text


# -- phones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的电话13800001234", "我的电话138****1234"),
        ("电话：138 0000 1234。", "电话：138 **** 1234。"),
        ("手机138-0000-1234", "手机138-****-1234"),
        ("+8613800001234", "+86138****1234"),
        ("+86 138 0000 1234", "+86 138 **** 1234"),
        ("8613800001234", "86138****1234"),
        ("打我电话１３８００００１２３４！", "打我电话１３８****１２３４！"),
        ("电话199123456789", "电话199123456789"),  # 12 digits: not a mobile number
    ],
)
def test_it_masks_mobile_numbers_as_138_stars_1234(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("座机0771-1234567", "座机0771-****567"),
        ("座机(0771)1234567", "座机(0771)****567"),
        ("座机（0771）1234567", "座机（0771）****567"),
        ("座机07711234567", "座机0771****567"),
        ("电话010-12345678", "电话010-****5678"),
        ("电话02012345678", "电话020****5678"),
        ("联系电话：2823456", "联系电话：****456"),
        ("座机 28234567。", "座机 ****4567。"),
    ],
)
def test_it_masks_landlines_keeping_the_area_code(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "打过12345热线，说转给部门了就没下文了",
        "消费者投诉请拨12315，报警110，急救120，火警119",
        "服务热线400-123-4567，客服800-820-8820",
        "服务热线4001234567或8008208820",
        "银行客服95588",
    ],
)
def test_it_leaves_hotlines_and_service_numbers(text):
    assert mask(text).spans == ()


def test_it_leaves_phone_like_digits_inside_a_longer_number():
    text = "订单号2020113800001234567，流水号99913800001234"
    assert masked(text) == text


# -- ID and bank cards ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证号45090219800101123X", "身份证号45*************23X"),
        ("身份证号45090219800101123x。", "身份证号45*************23x。"),
        ("身份证450902198001011234", "身份证45*************234"),
        ("老身份证450902800101123", "老身份证45**********123"),
        ("证号４５０９０２１９８００１０１１２３Ｘ", "证号４５*************２３Ｘ"),
    ],
)
def test_it_masks_id_numbers_keeping_two_and_three_characters(text, expected):
    assert masked(text) == expected
    span = mask(text).spans[0]
    # exactly as many stars as hidden characters
    assert len(span.replacement) == len(span.original)


def test_it_masks_luhn_valid_bank_cards_keeping_four_and_four():
    assert masked("卡号6222021234567890128") == "卡号6222***********0128"
    assert masked("转到4111 1111 1111 1111了") == "转到4111 **** **** 1111了"
    assert mask("转到4111 1111 1111 1111了").spans[0].kind == "bank_card"


def test_it_masks_a_named_bank_account_even_if_the_check_digit_fails():
    assert masked("银行卡号：6222021234567890123") == "银行卡号：6222***********0123"


def test_it_leaves_long_numbers_that_are_not_cards():
    # 16 digits, Luhn-invalid, no word naming a card
    text = "项目编码1234567890123456已入库"
    assert masked(text) == text


# -- e-mail and plates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("邮箱zhangsan@example.com", "邮箱z***@example.com"),
        ("发到 12345678@qq.com 谢谢", "发到 1***@qq.com 谢谢"),
        ("li.ming+gov@mail.gx.gov.cn。", "l***@mail.gx.gov.cn。"),
    ],
)
def test_it_masks_email_keeping_the_first_character_and_domain(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("车牌桂A12345乱停", "车牌桂A*****乱停"),
        ("新能源车桂A·D12345", "新能源车桂A******"),
        ("粤B 12345撞了人", "粤B*****撞了人"),
        ("桂KD12345", "桂K******"),
    ],
)
def test_it_masks_car_plates_keeping_province_and_letter(text, expected):
    assert masked(text) == expected


# -- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("南宁市青秀区东葛路118号青秀万达3栋2单元1101室", "南宁市青秀区东葛路****"),
        ("我住在人民东路12号金港城5栋302室，", "我住在人民东路****，"),
        ("地址是玉州区解放路88号7栋1201室", "地址是玉州区解放路****"),
        ("本人家住博白县东环路36号", "本人家住博白县东环路****"),
        ("家住陆川县中山路183号，", "家住陆川县中山路****，"),
        ("我家住阳光花园3栋2单元1101室", "我家住****"),
        ("我家在大塘镇新民村3队12号", "我家在大塘镇新民村****"),
        ("名山街道城南新村3栋4单元1904室漏水", "名山街道城南新村****漏水"),
        ("我家住富林小区3栋", "我家住****"),
        ("玉州区3栋2单元501室", "玉州区****"),
    ],
)
def test_it_masks_addresses_below_the_road_or_village(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "我们阳光花园小区路灯坏了",
        "我们富林小区3栋楼下天天堵车",
        "我姓陈，住在阳光花园",
        "学校新建5栋教学楼",
        "12路公交车太少",
        "公交线路3号站台没有遮阳棚",
        "没人弄3号楼的电梯",
        "第12中学门口堵车",
        "玉州区名山街道人民东路这里",
        "3000多户受益",
    ],
)
def test_it_leaves_estates_roads_and_ordinary_numbers(text):
    assert mask(text).spans == ()


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我是大塘镇新民村村民陈建华，反映个问题", "我是大塘镇新民村村民陈**，反映个问题"),
        ("姓名：黄建国", "姓名：黄**"),
        ("投诉人李秀英反映", "投诉人李**反映"),
        ("本人谢振东,家住容县", "本人谢**,家住容县"),
        ("我叫欧阳志强，是大塘镇的", "我叫欧阳**，是大塘镇的"),
        ("我叫诸葛亮。", "我叫诸葛**。"),
        ("我是新民村的王少华，希望解决", "我是新民村的王**，希望解决"),
        ("黄建华先生和李秀英阿姨说", "黄**先生和李**阿姨说"),
        ("学生家长何家豪反映", "学生家长何**反映"),
        ("村民陈建华、李秀英和黄国平反映", "村民陈**、李**和黄**反映"),
        ("业主张三与物业协商", "业主张**与物业协商"),
        ("联系人：欧阳娜娜 电话0775-2823456", "联系人：欧阳** 电话0775-****456"),
    ],
)
def test_it_masks_marked_names_keeping_the_surname(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "市民反映路灯不亮",
        "村民委员会不作为",
        "居民小区乱停车",
        "群众关注度高",
        "损害群众利益，",
        "市民政局已答复",
        "居民楼道，堆满杂物",
        "坚持群众路线",
        "提升群众幸福感，",
        "工作组3号文件已印发",
        "陈先生反映：门口堵车",
        "市民王女士",
        "我姓陈，住在城南",
        "本人黄某某，反映",
        "村民王某说",
        "班主任老师也说",
        "患者家属投诉",
        "老人家买菜最容易被骗",
    ],
)
def test_it_leaves_words_that_only_look_like_names(text):
    assert mask(text).spans == ()


# -- never masked --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "截止2020年12月31日，已全部整改",
        "时限2020-12-31，登记于20201231",
        "补助1,234.56元，总投资12345万元，同比增长66.7%",
        "根据桂绩办发〔2020〕6号和南发〔2019〕12号文件",
        "事项编号2019-0001、2020M-0012",
        "依照第3条第2款",
        "邮编537000",
        "1998年至2020年",
        "时速350公里的南玉高铁；铁山港东岸码头2个10万吨级泊位",
        "累计开展26轮次1500万余人次全员核酸筛查，储备隔离点房间3069间",
        "已返还1948家企业普惠性失业保险金1084.02万元",
    ],
)
def test_it_never_masks_dates_amounts_and_document_numbers(text):
    assert mask(text).spans == ()


# Paragraphs of the two seed notices: an office's prose full of numbers, nothing personal.
SEED_PARAGRAPHS = [
    "根据自治区绩效办《2020年度设区市和自治区直属机关社会评价工作方案》(桂绩办发〔2020〕6号)"
    "的通知要求,自治区反馈我市2019年度社会评价群众意见建议共547条、2020年中期社会评价群众意见建议"
    "共447条,由于部分意见建议内容相似或相同,我市通过对所提意见建议梳理汇总,2019年度共归纳为538条"
    "意见建议,2020年中期共归纳为443条。截止2020年12月29日,群众反馈的意见建议已全部进行整改。",
    "全市新增“小上限”20家,社会消费品零售总额增长2.3%,全区排名第2;农村网络零售额15.2亿元、"
    "农产品零售额10.2亿元,均排名全区第2。",
    "时速350公里的南玉高铁全面加快建设并向东延伸,南深高铁玉林至深圳段将于年内开工建设;"
    "铁山港东岸码头2个10万吨级泊位预计明年上半年建成使用。",
    "博白县退出贫困县序列,全市剩余贫困人口16925人、22个未摘帽村已全部具备脱贫摘帽条件。",
    "建立“3+15”协同指挥和2小时“追阳”报告机制,在仅用5天时间快速实现社会面清零的基础上,"
    "累计开展26轮次1500万余人次全员核酸筛查,及时储备外市县隔离点房间3069间,累计接收**转来密接"
    "人员十一批4912人。",
    "全年妥善处理1130宗群众来信来访,10件信访积案全部化解,全年共计回复网民群众留言108条,"
    "在县级市年度公开回复量位居全省第四,县级市第二。15个老旧小区改造工程已全部开工建设。",
    "落实失业保险稳岗返还“免申即享”,已返还1948家企业普惠性失业保险金1084.02万元,"
    "发放个人失业保险和补助金1782.06万元。",
    "全年办理老年人优待证1254人,购买老年人意外伤害综合保险4295人,老年人认知障碍筛查20511人。"
    "实现城乡居民养老参保52.04万人,电子社保卡人口覆盖率达69.2%。新开工建设**房1502套,"
    "为1028名具备购房资格对象配售房源。",
    "企业开办时间缩短至1天,登记业务审核时间不超过0.5个工作日。“零跑动”事项可办率超77%,"
    "54个高频事项实现线下“一件事一次办”,24小时“不打烊”政务服务自助区。",
    "玉林市委市政府督查和绩效考评办公室\n\n2020年12月31日",
]


@pytest.mark.parametrize("text", SEED_PARAGRAPHS)
def test_the_seed_notices_prose_is_left_as_it_is(text):
    assert mask(text).spans == ()


# -- terms and keep ------------------------------------------------------------------------


def test_terms_are_masked_wherever_they_occur():
    text = "海口市统计局和海口市政府联合发文，海口市统计局牵头"
    m = mask(text, terms=["海口市统计局", "海口市"])
    assert m.text == "****和****政府联合发文，****牵头"
    assert [s.kind for s in m.spans] == ["term", "term", "term"]
    assert [s.original for s in m.spans] == ["海口市统计局", "海口市", "海口市统计局"]


def test_overlapping_terms_are_merged_into_one_span():
    m = mask("博鳌亚洲论坛年会", terms=["博鳌亚洲", "亚洲论坛"])
    assert m.text == "****年会"
    assert len(m.spans) == 1 and m.spans[0].original == "博鳌亚洲论坛"


def test_a_term_swallows_a_detail_it_touches():
    m = mask("我住在人民东路12号金港城5栋302室", terms=["金港城"])
    assert m.text == "我住在人民东路****"
    assert [(s.kind, s.original) for s in m.spans] == [("term", "12号金港城5栋302室")]


def test_blank_terms_are_ignored():
    assert masked("没有要屏蔽的", terms=["", "  "]) == "没有要屏蔽的"


def test_keep_lifts_a_span_the_rules_found():
    text = "村民陈建华，电话13800001234"
    m = mask(text, keep=["陈建华"])
    assert m.text == "村民陈建华，电话138****1234"
    assert mask(text, keep=["13800001234", "陈建华"]).spans == ()


def test_keep_wins_over_a_term():
    assert masked("海口市和海口市政府", terms=["海口市"], keep=["海口市政府"]) == "****和海口市政府"


# -- the result ----------------------------------------------------------------------------


def test_spans_give_offsets_in_the_original_text_in_order():
    text = "黄建华先生电话１３８００００１２３４，住解放路8号3栋201室。邮箱a@b.cn"
    m = mask(text)
    assert [s.kind for s in m.spans] == ["name", "mobile", "address", "email"]
    for s in m.spans:
        assert text[s.start : s.end] == s.original
    assert all(a.end <= b.start for a, b in zip(m.spans, m.spans[1:], strict=False))
    assert m.counts == {"name": 1, "mobile": 1, "email": 1, "address": 1}
    # Rebuilding from the spans gives the masked text.
    rebuilt, pos = "", 0
    for s in m.spans:
        rebuilt += text[pos : s.start] + s.replacement
        pos = s.end
    assert rebuilt + text[pos:] == m.text


def test_html_escapes_the_text_and_marks_each_replacement():
    m = mask("<b>村民陈建华</b> & 13800001234")
    with override("zh-hans"):
        html = m.html()
    assert html == (
        '&lt;b&gt;村民<mark class="masked masked-name" title="姓名">陈**</mark>&lt;/b&gt; &amp; '
        '<mark class="masked masked-mobile" title="手机号码">138****1234</mark>'
    )
    assert "陈建华" not in html and "13800001234" not in html


def test_kind_labels_are_translated():
    with override("zh-hans"):
        assert str(KIND_LABELS["id_card"]) == "身份证号"
    with override("en"):
        assert str(KIND_LABELS["id_card"]) == "ID card number"
    assert set(KIND_LABELS) == {
        "name", "possible_name", "mobile", "landline", "id_card", "email", "bank_card", "qq",
        "wechat", "plate", "address", "term"
    }  # fmt: skip


def test_it_is_a_pure_function_of_frozen_values():
    a, b = mask("电话13800001234", terms=("x",)), mask("电话13800001234", terms=["x"])
    assert a == b and isinstance(a, Masked) and isinstance(a.spans[0], Span)
    with pytest.raises(AttributeError):
        a.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01\x1b[31m\u202e\ufeff",
        "😀" * 50 + "𠀀𠀁",
        "Мария 13800001234 مرحبا",
        "住" + "1栋" * 5000,
        "村民" * 10000,
        "1" * 100_000,
        "桂A" * 10000 + "@" * 1000,
    ],
)
def test_it_is_safe_on_any_input(text):
    m = mask(text)
    assert isinstance(m.text, str)
    assert all(s.original == text[s.start : s.end] for s in m.spans)


def test_it_masks_thousands_of_texts_in_well_under_a_second_each():
    text = "我是大塘镇新民村村民陈建华，电话13800001234，我家住阳光花园3栋2单元1101室。" * 3
    result = [mask(text) for _ in range(500)]
    assert len(result[-1].spans) == 9


# -- the demo ledger -----------------------------------------------------------------------


class _AnyLeader(dict):
    def __missing__(self, key):
        return None


@pytest.fixture(scope="module")
def demo():
    """Every citizen text and every office text the demo ledger is built from, written by
    ``seed_demo``'s own composer (no database needed), with the people it invented."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    cast = types.SimpleNamespace(leader_by_post=_AnyLeader(), leader_of_department=_AnyLeader())
    citizen, office = [], []
    for spec in data["rounds"]:
        for draft in seed_demo.RoundBuilder(spec, data, cast).write():
            citizen.extend(draft.texts)
            topic, ctx = draft.topic, draft.ctx
            office.append(draft.title)
            for key in ("measures", "goal", "done", "long_term"):
                office.append(topic[key].format_map(ctx))
            office.extend(p.format_map(ctx) for p in topic["progress"])
    return types.SimpleNamespace(citizen=citizen, office=office, data=data)


def test_demo_citizen_texts_lose_every_invented_detail(demo):
    people = demo.data["people"]
    names = {s + g for s in people["surnames"] for g in people["given"]}
    prefixes = tuple(people["phone_prefixes"])
    id_prefixes = tuple(c["id_prefix"] for c in demo.data["places"]["counties"])
    found = collections.Counter()
    for text in demo.citizen:
        m = mask(text)
        for span in m.spans:
            found[span.kind] += 1
            o = span.original
            # Every span is one of the details the composer put in: no false positive.
            if span.kind == "name":
                assert o in names, (o, text)
            elif span.kind == "mobile":
                assert len(o) == 11 and o.startswith(prefixes), (o, text)
            elif span.kind == "id_card":
                assert len(o) == 18 and o.startswith(id_prefixes), (o, text)
            elif span.kind == "address":
                assert re.fullmatch(r"[\u4e00-\u9fff0-9]*[号室]", o), (o, text)
            else:
                pytest.fail(f"unexpected {span.kind} span {o!r} in {text!r}")
        # …and no miss: nothing the composer invented is left.
        assert not any(n in m.text for n in names), m.text
        assert not re.search(r"1[3-9][0-9]{9}|[0-9]{17}[0-9X]|[0-9]+[栋室]|路[0-9]+号", m.text)
    assert found["name"] > 20 and found["mobile"] > 50 and found["id_card"] > 5
    assert found["address"] > 50


def test_demo_office_texts_are_never_masked(demo):
    for text in demo.office:
        assert mask(text).spans == (), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A sample of demo suggestions checked by eye.
        (
            "本人莫某某，家住陆川县环城路231号，项目用地迟迟批不下来，企业等不起。",
            "本人莫某某，家住陆川县环城路****，项目用地迟迟批不下来，企业等不起。",
        ),
        (
            "我叫谢振东，是城北街道的，六合村的垃圾堆在路边好几天都没人拉，"
            "我家住丽景湾1栋4单元1002室。希望有关部门管一管。",
            "我叫谢**，是城北街道的，六合村的垃圾堆在路边好几天都没人拉，"
            "我家住****。希望有关部门管一管。",
        ),
        (
            "我们蒲塘镇，烧塑料的黑烟飘进屋里，希望政府重视一下。电话13100004001，韦先生。",
            "我们蒲塘镇，烧塑料的黑烟飘进屋里，希望政府重视一下。电话131****4001，韦先生。",
        ),
        (
            "城南路这里 红绿灯设置不合理 打过12345热线 说转给部门了就没下文了 "
            "我家在民乐镇三合村8队22号 希望领导下来看看",
            "城南路这里 红绿灯设置不合理 打过12345热线 说转给部门了就没下文了 "
            "我家在民乐镇三合村**** 希望领导下来看看",
        ),
        (
            "我们新圩镇，老人去一趟城里要转两趟车，本人身份证号码是450981198503070000，请尽快解决。",
            "我们新圩镇，老人去一趟城里要转两趟车，本人身份证号码是45*************000，请尽快解决。",
        ),
        (
            "我姓苏,住在东方御景,北流河的水又黑又臭,以前还能下去游泳.电话18900008829,苏先生.",
            "我姓苏,住在东方御景,北流河的水又黑又臭,以前还能下去游泳.电话189****8829,苏先生.",
        ),
        (
            "分时段预约和诊间结算全面推行，门诊平均候诊时间缩短至30分钟以内。",
            "分时段预约和诊间结算全面推行，门诊平均候诊时间缩短至30分钟以内。",
        ),
    ],
)
def test_checked_demo_sample(text, expected):
    assert masked(text) == expected


# -- QQ numbers and WeChat IDs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("QQ 2783345601", "QQ 2********1", "qq"),
        ("我QQ号是 415627733，", "我QQ号是 4*******3，", "qq"),
        ("QQ号码：2509887341", "QQ号码：2********1", "qq"),
        ("扣扣：1538876210", "扣扣：1********0", "qq"),
        ("联系我，Q：773210458", "联系我，Q：7*******8", "qq"),
        ("qq:99887766 有事留言", "qq:9******6 有事留言", "qq"),
        ("ＱＱ：１２３４５６７８", "ＱＱ：１******８", "qq"),
        ("有事加我微信 lqj_1962", "有事加我微信 l******2", "wechat"),
        ("微信号：chenxm_0775 这是我微信", "微信号：c*********5 这是我微信", "wechat"),
        ("加我vx：hjw88520，", "加我vx：h******0，", "wechat"),
        ("wx:zhao-ming_88", "wx:z**********8", "wechat"),
        ("加V：yl_zhangwei2020", "加V：y*************0", "wechat"),
        ("加我威信 lw19880312", "加我威信 l********2", "wechat"),
        ("我的微信是：Lucy_yulin，", "我的微信是：L********n，", "wechat"),
        ("微信wxid_k2n8p5x9q3也可以", "微信w*************3也可以", "wechat"),
    ],
)
def test_it_masks_qq_numbers_and_wechat_ids_keeping_the_first_and_last_characters(
    text, expected, kind
):
    m = mask(text)
    assert m.text == expected
    assert [s.kind for s in m.spans] == [kind]
    # One star for each character hidden, as for a phone number.
    assert len(m.spans[0].replacement) == len(m.spans[0].original)


def test_a_wechat_id_that_is_a_phone_or_a_qq_mail_is_masked_as_what_it_is():
    m = mask("加我微信 18677512345，邮箱12345678@qq.com")
    assert [s.kind for s in m.spans] == ["mobile", "email"]
    assert m.text == "加我微信 186****2345，邮箱1***@qq.com"


@pytest.mark.parametrize(
    "text",
    [
        "请群众关注“玉林发布”微信公众号",
        "菜市场只能用微信支付，老人不会用",
        "通过微信小程序即可预约挂号",
        "已经加了社区书记的微信，发了几次消息都不回",
        "有问题可以联系我wx同号",
        "在QQ群里说了",
        "加我微信吧",
    ],
)
def test_it_leaves_mentions_of_qq_and_wechat_without_an_id(text):
    assert mask(text).spans == ()


def test_it_masks_a_mobile_number_written_in_chinese_numerals():
    assert masked("请联系本人手机一三八七七五五二零四六") == "请联系本人手机一三八****二零四六"
    assert mask("共计一千三百八十万元").spans == ()


# -- names in context ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("联系人是覃海燕，电话0775-2836611", "联系人是覃**，电话0775-****611"),
        ("我的名字是罗美玲，我想问一下", "我的名字是罗**，我想问一下"),
        ("张建国反映：楼上天天半夜装修", "张**反映：楼上天天半夜装修"),
        ("蒋红梅说她老公被拖欠工资", "蒋**说她老公被拖欠工资"),
        ("韦建军家门口的下水道堵了", "韦**家门口的下水道堵了"),
        ("莫振华等5户村民联名反映", "莫**等5户村民联名反映"),
        ("韦秀兰大姐说她家的房子被洪水冲坏了", "韦**大姐说她家的房子被洪水冲坏了"),
        ("社区的莫丽萍主任说会帮我们反映", "社区的莫**主任说会帮我们反映"),
        ("我老公刘德明在外地打工", "我老公刘**在外地打工"),
        ("包工头雷振华拖欠工资", "包工头雷**拖欠工资"),
        ("举报：摊主陆伟强缺斤短两", "举报：摊主陆**缺斤短两"),
        ("网格员叫覃小梅，人很好", "网格员叫覃**，人很好"),
        ("一个叫韦德明的人上门", "一个叫韦**的人上门"),
        ("我是梧州人吴志坚，在玉林做生意", "我是梧州人吴**，在玉林做生意"),
        ("陈志强，男，45岁，在工业园打工", "陈**，男，45岁，在工业园打工"),
        ("希望尽快回复，谢谢！陆文斌", "希望尽快回复，谢谢！陆**"),
        ("莫丽芳 13507751122 请尽快回复", "莫** 135****1122 请尽快回复"),
        ("跟你们单位的甘小军说过了", "跟你们单位的甘**说过了"),
        ("我叫欧阳晓峰，在师范学院读书", "我叫欧阳**，在师范学院读书"),
        ("沈建国兄弟俩占用村道建房", "沈**兄弟俩占用村道建房"),
    ],
)
def test_it_masks_names_that_the_words_around_them_mark(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Ordinary words that start with a surname's character.
        "周边的工地晚上还在打桩",
        "高铁站出来打不到车",
        "白天还好，一到晚上油烟全飘进屋里",
        "方案已经公示了，大家都不同意",
        "金融办说这个不归他们管",
        "石化厂排出来的气味很刺鼻",
        "小区里的叶子都掉进下水道",
        "孙子在幼儿园被老师打了",
        "常年积水的地下通道没人管",
        "宁愿多走两公里也不想从那个路口过",
        "文明城市创建以后，街边的小摊都被赶走了",
        "安全隐患太多了",
        "村民任何时候去村委都找不到人",
        # Places, streets and estates.
        "黎明路口的红绿灯时间太短",
        "卢家村到镇上的班车一天只有两趟",
        "温泉路那边的施工围挡占了一半马路",
        "向阳社区的老年活动中心一直锁着门",
        "黄河路和长江路交叉口积水严重",
        "组织群众幸福家园小区业主召开协调会",
        "针对群众反映的金城花园小区积水问题",
        "经核查，华润中央公园小区居民反映的噪音问题属实",
        # Departments, posts, people already anonymous.
        "林业局的人来看过一次就再也没来了",
        "由市委副书记任组长，常务副市长任副组长",
        "请转告负责这件事的钟科长",
        "区教育局已约谈涉事学校校长",
        "覃大爷说村里的水渠坏了三年",
        "城南派出所已对黄某某依法作出行政拘留处罚",
        "经回访，反映人黄**对处理结果表示满意",
        "工作人员解答群众疑问",
        "委托会计师事务所审计",
    ],
)
def test_it_leaves_ordinary_words_places_and_posts_that_start_like_a_name(text):
    assert mask(text).spans == ()


# -- possible names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "original"),
    [
        # 黄海 is a sea in the dictionary: after 我叫 it is a name, but only possibly.
        ("我叫黄海，住在城北", "黄海"),
        # Unmarked, before a word that may follow anything: the segmenter reads a name.
        ("同村的谢振东也遇到同样的问题", "谢振东"),
        ("骆国华和他弟弟占了集体土地", "骆国华"),
    ],
)
def test_a_name_the_rules_are_unsure_of_is_a_possible_name_and_masked(text, original):
    m = mask(text)
    (span,) = [s for s in m.spans if s.original == original]
    assert span.kind == "possible_name"
    assert span.replacement == original[0] + "**"
    assert original not in m.text
    with override("en"):
        assert 'class="masked masked-possible_name" title="Possible name"' in m.html()


def test_a_confirmed_name_is_masked_as_a_name_wherever_it_occurs():
    m = mask("我叫黄海。黄海说的没人听", names=["黄海", "欧阳娜娜"])
    assert m.text == "我叫黄**。黄**说的没人听"
    assert [s.kind for s in m.spans] == ["name", "name"]
    assert masked("找欧阳娜娜", names=["欧阳娜娜"]) == "找欧阳**"


def test_a_dismissed_possible_name_is_shown_but_a_certain_one_is_not():
    assert mask("我叫黄海，住在城北", not_names=["黄海"]).spans == ()
    # Dismissing decides only where the rules were unsure.
    assert masked("村民陈建华反映", not_names=["陈建华"]) == "村民陈**反映"
    # Keep still lifts anything.
    assert mask("村民陈建华反映", keep=["陈建华"]).spans == ()


# -- what offices write --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "已对幸福小区3栋2单元楼道堆放的杂物进行清理",
        "已对金港城小区2栋1单元至3单元的外墙脱落进行修补",
        "群众可到市政务服务中心三楼社保窗口办理",
        "市人社局在市政务服务中心2楼设立农民工工资专窗",
        "在市行政审批局B座3楼设立企业开办专区",
        "在区政务服务中心3楼301室设立不动产登记窗口",
        "已在人民东路88号市民服务中心设立便民服务窗口",
        "在江南路128号区政务服务大厅设立专窗",
        "对城西街道幸福路12号至36号沿街店铺的油烟进行检测",
        "向阳小区5栋至8栋的雨污管网已完成分流改造",
        "已协调供电公司对新民村3队的线路进行改造",
        "已督促物业对2单元电梯进行维修",
    ],
)
def test_it_leaves_buildings_floors_and_public_addresses_in_what_offices_write(text):
    assert mask(text).spans == ()


def test_a_home_in_an_office_text_is_masked_without_the_words_before_it():
    assert masked("已对幸福小区3栋2单元501室住户进行回访") == "已对****住户进行回访"
    assert masked("维修了明珠花园6栋1201室的水管") == "维修了****的水管"
    # A team of a village is an address where someone lives there.
    assert masked("我家在新民村3队，路不通") == "我家在新民村****，路不通"


SEEDS = [Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"]


def test_the_two_published_seed_notices_mask_to_themselves():
    folder = next((f for f in SEEDS if f.is_dir()), None)
    if folder is None:
        pytest.skip("the seed notices are not beside the repository")
    for path in sorted(folder.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert mask(line).spans == (), line


def test_names_in_many_clauses_stay_linear():
    text = "陈建华说，门口的路灯坏了。" * 4000
    m = mask(text)
    assert len(m.spans) == 4000 and m.text.count("陈**说") == 4000
