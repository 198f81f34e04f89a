"""Site boilerplate: what download sites print around a document (download/copyright notices, 上传人 /
文档编号 lines, "第N页 / 共N页" lists, "…_第3頁" titles, ads, QQ lines, "相关文档", comment boxes, …).
The patterns match the Simplified, space-normalised line."""
from __future__ import annotations

import re

from ingest.clean.tracked import TrackedText
from kb.text import to_simplified

# Whole-line patterns (matched on the Simplified, space-normalised line).
_BOILER_LINE = [
    r"第\s*\d+\s*页\s*/\s*共\s*\d+\s*页",
    r".{0,80}_第\s*\d+\s*页",
    r".{0,80}[,，]\s*第\s*\d+\s*张",
    r"(返回|下载|相关|举报|分享|收藏|打印|\s)+",
    r"\d+\s*/\s*\d+",
    r"(评论|提交评论|发表评论|相关文档|最新文档|相关资源|相关搜索|猜你喜欢|资源描述|文档简介|温馨提示|展开阅读全文"
    r"|下载本文档|点击查看更多.*|阅读全文|查看更多|收起|举报|上一页|下一页|首页|目录导航|本文档|免费下载)\s*[>》]*",
    r"\S{1,8}(\s+\d+){1,3}",  # "客户 0 60": category / views / comments
    r"[A-Z]{2,}\d{4,}",  # course code "MAM080101"
    r"(转自|转载自|来源|来自|摘自|本文来自|原文)[:：]?.{0,30}",
    r"(大小|点数|格式|页数|上传时间|文件大小)\s*[:：。].{0,30}",
    r"[A-Z ]*\b(SITE|LOGO|TITLE|TEXT|COMPANY) HERE\b[A-Z ]*|(?i:click to (add|edit).{0,30})",
]
BOILER_LINE_RE = re.compile("^(?:" + "|".join(f"(?:{p})" for p in _BOILER_LINE) + r")$")

# Keywords that mark a short line (< 160 chars) as site boilerplate wherever they occur.
BOILER_KEYWORDS = re.compile(
    r"(上传人|上传者|上传时间|文档编号|版权说明|版权所有|版权归|侵权|举报|认领|收益归属|内容提供方|在线阅读|会员分享"
    r"|免费阅读|页未读|还剩\d+页|展开阅读全文|点击查看更多|下载本文档|下载文档|下载更方便|免费下载|下载观看"
    r"|网盘|咨询\s*QQ|QQ\s*[:：]?\s*\d{5,}|VIP|备案号|ICP|公网安备|经营许可证|当前位置\s*[:：]|本站|人工客服工作时间"
    r"|请在.{0,10}上搜索|资源整合网|学习资源|开通.{0,6}会员|\b\w+\.(?:cn|com|net|org)\b|文库|不承担.{0,10}责任"
    r"|所有权益归|盈利用途|平台不提供|申请退款|甄别文档)",
    re.IGNORECASE,
)
# A footer marker: everything after it is site chrome when little text follows.
FOOTER_MARK = re.compile(r"^(温馨提示|相关文档|最新文档|展开阅读全文|相关资源|猜你喜欢|相关搜索|提交评论|评论)\s*[:：]?$")


def is_boilerplate(line_s: str) -> bool:
    """An empty line, a whole-line pattern, or a short line holding a keyword (line_s: the Simplified line)."""
    s = line_s.strip()
    if not s:
        return True
    if BOILER_LINE_RE.match(s):
        return True
    if len(s) < 160 and BOILER_KEYWORDS.search(s):
        return True
    return False


# Page-count notices glued into a line ("…_第1頁已阅读3页,还剩5页未读 继续免费阅读").
_INLINE_NOTICE = re.compile(r"(已[阅閱]读\d+[页頁],?还剩\d+[页頁]未读\s*继续免费阅读)")


def drop_inline_notices(s: TrackedText) -> TrackedText:
    """The line without page-count notices that survived inside it (matched on its Simplified form)."""
    spans = [(m.start(), m.end()) for m in _INLINE_NOTICE.finditer(to_simplified(s.text))]
    return s.drop_spans(spans).strip()
