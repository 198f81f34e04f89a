"""Questions for load tests: many distinct, realistic agent questions (no cache hits), and a repeat mix.

Made by recombining what the corpus and the dev set actually say: a clause lifted from a seed document is
put into one of the ways agents phrase questions ("客户说…，我该怎么处理？"), and dev questions get the
openers and tails agents type. Deterministic for a given seed.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

_SPLIT = re.compile(r"[。！？!?；;\n]+")
_CLAUSE = re.compile(r"[，,：:、]")
_HAN = re.compile(r"[\u4e00-\u9fff]")

TEMPLATES = [
    "客户说{c}，我该怎么处理？",
    "{c}，这种情况怎么办？",
    "遇到{c}应该怎么回复客户？",
    "{c}是什么意思？",
    "关于{c}，公司的原则是什么？",
    "有没有{c}的案例？",
    "怎么理解{c}？",
    "{c}，坐席要注意什么？",
    "主管说{c}，具体该怎么做？",
    "培训里讲{c}，能举个例子吗？",
    "客户投诉{c}，怎么安抚？",
    "为什么说{c}？",
]
OPENERS = ["", "", "请问", "请问一下，", "麻烦问下，", "急！", "新人求助：", "同事问我：", "想确认一下，"]
TAILS = ["", "", "", "谢谢", "在线等", "有没有标准话术？", "能说具体点吗？", "有案例吗？"]


def _clauses(text: str) -> list[str]:
    out = []
    for sentence in _SPLIT.split(text):
        for c in _CLAUSE.split(sentence):
            c = c.strip(" \t\u3000“”\"'《》()（）")
            han = len(_HAN.findall(c))
            if 6 <= han and len(c) <= 28 and han >= 0.7 * len(c):
                out.append(c)
    return list(dict.fromkeys(out))


def dev_questions(dev_file: Path | None) -> list[str]:
    if dev_file is None or not Path(dev_file).exists():
        return []
    return [json.loads(line)["question"] for line in Path(dev_file).read_text("utf-8").splitlines() if line.strip()]


def seed_texts(docs_dirs: list[Path]) -> list[str]:
    texts = []
    for d in docs_dirs:
        d = Path(d)
        if d.is_dir():
            for f in sorted(d.iterdir()):
                if f.suffix.lower() in (".txt", ".md") and f.is_file():
                    texts.append(f.read_text("utf-8", errors="ignore"))
    return texts


def unique_questions(n: int, docs_dirs: list[Path], dev_file: Path | None = None, seed: int = 7) -> list[str]:
    """n distinct questions (raises if the corpus is too small to make that many)."""
    rng = random.Random(seed)
    clauses = [c for t in seed_texts(docs_dirs) for c in _clauses(t)] or ["客户投诉快递晚到要赔钱"]
    devs = dev_questions(dev_file)
    seen: set[str] = set()
    out: list[str] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(f"only {len(out)} distinct questions could be made")
        if devs and rng.random() < 0.15:
            q = rng.choice(OPENERS) + rng.choice(devs) + rng.choice(TAILS)
        else:
            q = rng.choice(OPENERS) + rng.choice(TEMPLATES).format(c=rng.choice(clauses)) + rng.choice(TAILS)
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


def repeat_mix(n: int, pool: list[str], seed: int = 11, s: float = 1.1) -> list[str]:
    """n questions drawn Zipf-like (exponent s) from a pool: a few popular questions asked again and again."""
    rng = random.Random(seed)
    weights = [1.0 / (r + 1) ** s for r in range(len(pool))]
    return rng.choices(pool, weights=weights, k=n)


def repeat_share(questions: list[str]) -> float:
    """Share of requests whose question was already asked earlier in the sequence (the cache's best case)."""
    seen: set[str] = set()
    hits = 0
    for q in questions:
        hits += q in seen
        seen.add(q)
    return round(hits / max(len(questions), 1), 3)
