"""Six agents' questions about the seeds, the way agents type them: what the search and encoder tests ask."""
from __future__ import annotations

QUESTIONS = ["客户投诉快递晚到要赔钱，我该怎么处理？", "客户很生气一直骂人怎么办", "什么是首问负责制",
             "退货超过七天还能退吗", "服务补救的步骤有哪些", "客人嫌等太久要求打折"]
