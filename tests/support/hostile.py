"""What the bad-input tests check of every refusal: it says what is wrong in Chinese and in English."""
from __future__ import annotations

import json
import re

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


def bilingual(r) -> str:
    """The response's error text; asserts it says it in Chinese and in English."""
    text = json.dumps(r.json(), ensure_ascii=False)
    assert CJK.search(text) and LATIN.search(text), text
    return text
