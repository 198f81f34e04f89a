"""What the model tests encode: questions and passages as agents and customers write them (Simplified,
Traditional, full-width, mixed English, emoji, punctuation, numbers, controls, other scripts) and long texts
just within 512 tokens."""
from __future__ import annotations

ZH = ("您好，关于您咨询的退款问题，我们已经为您提交了申请，款项会在三到五个工作日内原路退回。"
       "如果超过七个工作日仍未到账，请提供订单号，我们会帮您联系财务核实处理。")
TW = ("您好，關於您詢問的保固問題，本商品享有一年原廠保固，保固期間內非人為損壞可免費維修。"
       "送修時請附上購買憑證與保固卡，維修時間約為七至十四個工作天。")
EN = ("Thanks for reaching out. Your order has been shipped and the tracking number will be updated "
       "within 24 hours. If the package does not arrive within 7 business days, please contact us again. ")
# Long but within 512 tokens with either prompt (480-505 tokens, checked below).
LONG = [(ZH * 10)[:720], (TW * 10)[:630], (EN * 12)[:2275], ((ZH + EN) * 6)[:1375]]

TEXTS = [
    # Simplified
    "请问退款一般需要多长时间到账？",
    "我的订单显示已签收，但是我没有收到快递。",
    "怎么修改收货地址",
    "客服你好，我想投诉一下配送员的服务态度",
    # Traditional
    "請問退貨運費由誰負擔？",
    "我的帳戶被鎖定了，該怎麼辦",
    "發票可以開公司抬頭嗎",
    # full-width characters
    "ＡＢＣ１２３全角字母和数字",
    "订单号：ＤＤ２０２４０５０１０００１",
    "（括号）【方括号】《书名号》「引号」",
    "\u3000全角空格\u3000开头",
    # mixed English
    "我的iPhone 15 Pro Max屏幕碎了，可以保修吗？",
    "How do I reset my password? 密码忘了",
    "APP一直闪退, version 3.2.1, Android 14",
    "WiFi连不上，提示DNS error",
    # emoji
    "太棒了🎉👍😂谢谢客服",
    "😡😡😡等了一个星期还没到",
    "❤️❤️好评",
    "👨‍👩‍👧 家庭套餐怎么办理",
    "🥲🥲 unknown emoji twice",
    # punctuation
    "！！！？？？……",
    "“你好”，‘再见’；——破折号",
    "...???!!!",
    "~@#￥%……&*（）——+",
    # numbers
    "价格是¥1,299.00（含税）",
    "13800138000",
    "2024年5月1日 14:30",
    "3.1415926 + 2.71828 = 5.85987",
    "满300减50，满500减100",
    # whitespace, controls, combining marks, other scripts, rare characters
    "",
    " ",
    "tab\there\nnewline\r\n  two  spaces ",
    "NBSP\u00a0和零宽\u200b字符",
    "é vs e\u0301, ｅ\u0301 组合字符",
    "日本語のテキストも混ざる",
    "한국어 고객센터",
    "𠀀𠀁 罕见字",
    *LONG,
]
