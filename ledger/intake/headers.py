"""Every header name the imports recognise, in one table: field → its names, the preferred
first (docs/intake.md, "Header row").

The names are those of the tables offices publish and pass round: 问题清单, 整改清单 and
整改台账 (序号, 存在问题, 整改措施, 整改时限, 责任领导, 牵头单位, 责任单位, 配合单位, 责任人,
整改进展, 备注 …), the summaries of citizens' suggestions (序号, 意见建议内容, 所属领域, 县区,
反馈渠道, 备注), the third party's phone review (事项编号, 评议结果, 群众意见), and the
columns the ledger export writes, in Chinese and in English.

A name wrapped in ``Otherwise`` means what the rest of the header lets it mean: 责任单位
alone is the lead department, and beside 牵头单位 (or 牵头部门, 主办单位 …) it is the
co-responsible departments; 整改任务 alone is the problem, and beside 存在问题 it is the
measures. Names are compared as ``reading.header_key`` reduces them (spaces, brackets and
marks such as * and ： removed, lower case), so "县（市、区）" and "县(市、区)" are one name.
"""

from __future__ import annotations

from .reading import Otherwise

# Progress and state: what an item's workflow writes. Known, so that the preview names these
# columns as not imported (history cannot be imported), and never read.
HISTORY = "history"

LEDGER: dict[str, tuple[str, ...]] = {
    "number": ("编号", "事项编号", "台账编号", "问题编号", "序号", "Number", "No.", "No"),
    "title": (
        "问题",
        "整改事项",
        "问题描述",
        "存在问题",
        "存在的问题",
        "问题清单",
        "问题内容",
        "反馈问题",
        "主要问题",
        "具体问题",
        "问题表现",
        "意见建议",
        "意见建议内容",
        "Problem",
        "Item",
        "Title",
        Otherwise("整改任务", "measures"),
    ),
    "category": (
        "类别",
        "所属领域",
        "领域",
        "分类",
        "问题类别",
        "问题类型",
        "所属类别",
        "Category",
    ),
    "leader": (
        "责任领导",
        "市级领导",
        "牵头领导",
        "分管领导",
        "责任市领导",
        "牵头市领导",
        "分管市领导",
        "Responsible leader",
        "Leader",
    ),
    "lead": (
        "牵头单位",
        "牵头部门",
        "主办单位",
        "主责单位",
        "主责部门",
        "牵头责任单位",
        "Lead department",
        Otherwise("责任单位", "co"),
        Otherwise("责任部门", "co"),
        Otherwise("整改责任单位", "co"),
        Otherwise("承办单位", "co"),
    ),
    "co": (
        "配合单位",
        "协办单位",
        "配合部门",
        "协办部门",
        "协同单位",
        "参与单位",
        "Co-responsible departments",
    ),
    "deadline": (
        "整改时限",
        "完成时限",
        "办结时限",
        "时限",
        "整改期限",
        "完成期限",
        "整改完成时限",
        "完成时间",
        "计划完成时间",
        "Deadline",
    ),
    "measures": ("整改措施", "整改举措", "具体措施", "工作措施", "整改要求", "Measures"),
    "goal": ("整改目标", "目标", "预期目标", "Goal"),
    "person": ("责任人", "整改责任人", "具体责任人", "Responsible person"),
    "remarks": ("备注", "备注说明", "说明", "Remarks", "Notes", "Note"),
    HISTORY: (
        "整改进展",
        "整改进度",
        "进展情况",
        "完成情况",
        "整改情况",
        "整改完成情况",
        "落实情况",
        "办理情况",
        "办结情况",
        "整改结果",
        "整改成效",
        "销号情况",
        "实际完成时间",
        "状态",
        "办理状态",
        "整改状态",
        "是否完成",
        "是否办结",
        "完成进度",
        "进度",
        "完成百分比",
        "完成比例",
        "State",
        "Status",
        "Progress",
        "Percent done",
        # The escalation ladder's step (督办阶梯), which the export writes.
        "督办阶段",
        "Ladder step",
    ),
}

FEEDBACK: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "编号", "No.", "No", "Number", "Seq"),
    "text": (
        "意见建议内容",
        "意见建议",
        "意见和建议",
        "建议内容",
        "意见内容",
        "留言内容",
        "反映内容",
        "问题描述",
        "问题",
        "内容",
        "Suggestion",
        "Suggestions",
        "Text",
        "Content",
        "Problem",
    ),
    "category_text": (
        "类别",
        "所属领域",
        "领域",
        "分类",
        "问题类别",
        "问题类型",
        "Category",
        "Field",
    ),
    "region": (
        "地区",
        "县区",
        "县(市、区)",
        "区县",
        "县市区",
        "区域",
        "所属区域",
        "所属地区",
        "所属县区",
        "Region",
        "District",
    ),
    "channel": (
        "渠道",
        "反馈渠道",
        "反映渠道",
        "来源",
        "来源渠道",
        "意见来源",
        "问题来源",
        "信息来源",
        "Channel",
        "Source",
    ),
    "note": ("备注", "备注说明", "说明", "Note", "Notes", "Remarks"),
}

# The third party's phone review (专项评议): the item's number, its rating, the comment.
# The item's own number wins over a 序号 beside it (1, 2, 3 …), which is then named as
# not read.
REVIEW: dict[str, tuple[str, ...]] = {
    "number": (
        "事项编号",
        "台账编号",
        "问题编号",
        "编号",
        "序号",
        "Item number",
        "Number",
        "No.",
        "No",
    ),
    "rating": (
        "评议结果",
        "评价结果",
        "测评结果",
        "满意度",
        "满意程度",
        "满意度评价",
        "群众满意度",
        "是否满意",
        "评价",
        "评议",
        "Rating",
        "Satisfaction",
    ),
    "comment": (
        "评价意见",
        "评议意见",
        "群众意见",
        "具体意见",
        "意见",
        "不满意原因",
        "原因",
        "备注",
        "说明",
        "Comment",
        "Comments",
        "Remarks",
        "Note",
        "Notes",
    ),
}

# The one table: kind of file → field → names.
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "ledger": LEDGER,
    "feedback": FEEDBACK,
    "review": REVIEW,
}
