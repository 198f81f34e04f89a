"""Character classes and line shapes that more than one repair needs."""
from __future__ import annotations

import re

SPACE_RUN = re.compile(r"[ \t\u3000\xa0]+")  # blanks, incl. the ideographic and no-break spaces
CJK = r"\u3400-\u4dbf\u4e00-\u9fff"  # Han characters (regex class body)
CJK_CHAR = re.compile(rf"[{CJK}]")
CN_NUM = "一二三四五六七八九十"  # Chinese numerals of section labels ("七.案例")
SENT_END = "。！？!?；;”」』)）】"  # a line ending in one of these ends a sentence

# A text box or line that opens a section: 第N章…, 1.1…, 2服务…, (3)…, 案例导入, 【…】.
HEADING_SEG = re.compile(
    r"^(第\s*[\d一二三四五六七八九十百]+\s*[章节篇部分单元讲课]\s*\S.{0,25}"
    r"|\d+(?:\.\d+)+\s*\S.{0,25}"
    r"|\d{1,2}(?![月日年号时点分个名位次项条种天周])[\u4e00-\u9fff][^,，。；;:：!?！？]{1,20}"
    r"|[(（]\d{1,2}[)）]\s*\S[^。；;!?！？]{0,25}"
    r"|案例导入|案例分析|本章小结|本章知识结构图|学习目标.*|单元导读.*|想一想.*|练一练.*|议一议.*|做一做.*"
    r"|【[^】]{1,10}】.*)$"
)
