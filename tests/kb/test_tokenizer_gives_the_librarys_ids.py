"""kb/unigram.py gives exactly the ids `tokenizers` gives for the converted model's tokenizer.json."""
from __future__ import annotations

import json
import random

import pytest
from tokenizers import Tokenizer

from tests.support.paths import DEV_SET, SEEDS


@pytest.fixture(scope="module")
def pair(model_dir):
    from kb.unigram import UnigramTokenizer

    path = model_dir / "tokenizer.json"
    library = Tokenizer.from_file(str(path))
    library.no_truncation()
    library.no_padding()
    return library, UnigramTokenizer.from_file(path)


def _random_texts(n: int) -> list[str]:
    """Mixed scripts, combining marks, emoji and joiners, controls, full-width forms, private use, and
    the literal special tokens (raw and full-width, which the normaliser folds to ASCII)."""
    rng = random.Random(20261203)
    chars = [chr(c) for c in [*range(0x20, 0x7F), *range(0x4E00, 0x4E60), *range(0x300, 0x310), 0x1F600,
                              0x1F44D, 0x200D, 0xFE0F, 0x3000, 0xFF01, 0xFF33, 0x2460, 0xA0, 0x09, 0x0A, 0x0D,
                              0x01, 0x7F, 0x85, 0x2028, 0xAC00, 0x0E01, 0x0627, 0x05D0, 0x3042, 0x30A2, 0xE000,
                              0xD7FF, 0xFFFD, 0x10FFFF, 0x9F98, 0x8A72]]
    specials = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "＜ｓ＞", "＜unk＞", "  ", "▁", "query: "]
    return ["".join(rng.choice(specials) if rng.random() < 0.1 else rng.choice(chars)
                    for _ in range(rng.randint(0, 40))) for _ in range(3000)]


def _corpus_texts() -> list[str]:
    texts = []
    for path in sorted(SEEDS.glob("*.txt")):
        body = path.read_text(encoding="utf-8", errors="replace")
        texts += ["passage: " + body[i:i + 400] for i in range(0, len(body), 400)]
    texts += ["query: " + json.loads(line)["question"] for line in DEV_SET.read_text(encoding="utf-8").splitlines()
              if line.strip()]
    return texts


def test_ids_identical_on_seeds_dev_questions_and_random_text(pair):
    library, ours = pair
    texts = _corpus_texts() + _random_texts(3000)
    assert len(texts) > 3150
    mismatched = [t for t in texts if library.encode(t).ids != ours.encode(t)]
    assert not mismatched, mismatched[:3]
    assert ours.encode_batch(texts[:50]) == [e.ids for e in library.encode_batch(texts[:50])]


def test_the_file_read_whole_gives_the_same_tokenizer(pair, model_dir):
    """The fast reader (vocabulary pair by pair) and a plain json.loads agree."""
    from kb.unigram import UnigramTokenizer

    _, ours = pair
    whole = UnigramTokenizer(json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8")))
    texts = _corpus_texts()[:60]
    assert [whole.encode(t) for t in texts] == [ours.encode(t) for t in texts]
    assert whole.token_to_id("<pad>") == ours.token_to_id("<pad>") == 1


def test_the_setup_cache_gives_the_same_tokenizer_and_only_for_its_file(pair, model_dir, tmp_path):
    from kb.unigram import UnigramTokenizer, write_cache

    _, ours = pair
    path, cache = model_dir / "tokenizer.json", tmp_path / "tokenizer.vocab"
    assert write_cache(path, cache)
    cached = UnigramTokenizer.from_file(path, cache)
    assert cached._ids == ours._ids and cached._scores == ours._scores and cached._added == ours._added
    texts = _corpus_texts()[:60]
    assert [cached.encode(t) for t in texts] == [ours.encode(t) for t in texts]
    # a cache of other bytes (an edited tokenizer.json) is ignored, and so is a damaged one
    edited = tmp_path / "tokenizer.json"
    edited.write_text(path.read_text(encoding="utf-8").replace('"<unk>"', '"<UNK>"', 1), encoding="utf-8")
    assert UnigramTokenizer.from_file(edited, cache).token_to_id("<UNK>") is not None
    cache.write_bytes(cache.read_bytes()[:1000])
    assert UnigramTokenizer.from_file(path, cache)._ids == ours._ids
    assert not write_cache(model_dir / "config.json", tmp_path / "none")  # not a Unigram vocabulary


def test_special_tokens_and_unknown_characters(pair):
    library, ours = pair
    for text in ["<s>", "a<s>b", "<mask>客服</s>", "\U0001F600\U0001F600", "", " ", "　", "<unk><unk>"]:
        assert ours.encode(text) == library.encode(text).ids, repr(text)
    assert ours.encode("")[0] == 0 and ours.encode("")[-1] == 2


def test_other_tokenizers_are_refused_and_left_to_the_library(tmp_path, model_dir):
    from kb.encoders.exported import _LibraryTokenizer, _tokenizer
    from kb.unigram import UnigramTokenizer, UnsupportedTokenizer

    spec = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"] = {"type": "WordLevel", "vocab": {"<unk>": 0, "▁a": 1}, "unk_token": "<unk>"}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(UnsupportedTokenizer):
        UnigramTokenizer.from_file(path)
    assert isinstance(_tokenizer(path), _LibraryTokenizer)
    assert _tokenizer(path).encode("a")[1:-1] == [1]


def test_memory_is_a_fraction_of_the_library(model_dir):
    """Measured in fresh processes: the point of the class (282 MB in `tokenizers` on this model)."""
    import subprocess
    import sys

    probe = ("import gc, sys, tokenizers\n"
             "def rss(): return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) // 1024\n"
             "a = rss()\n"
             "if sys.argv[1] == 'ours':\n"
             "    from kb.unigram import UnigramTokenizer; t = UnigramTokenizer.from_file(sys.argv[2])\n"
             "else:\n"
             "    t = tokenizers.Tokenizer.from_file(sys.argv[2])\n"
             "gc.collect(); print(rss() - a)\n")

    def grown(kind: str) -> int:
        out = subprocess.run([sys.executable, "-c", probe, kind, str(model_dir / "tokenizer.json")],
                             capture_output=True, text=True, check=True, cwd=str(SEEDS.parent))
        return int(out.stdout.strip())

    ours, library = grown("ours"), grown("library")
    assert ours < 80 and ours * 3 < library, (ours, library)
