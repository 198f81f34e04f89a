"""The `kb` command line in-process: the terminal chat (in-process and over HTTP), the server's settings
hand-over to workers, a clear error for a missing model or a tune that cannot start, and `kb config-doc`."""
from __future__ import annotations

import io

from fastapi.testclient import TestClient

from tests.support.service import ADMIN_TOKEN, OOS_QUESTION, SEED_CASE_TITLE, SEED_QUESTION


def scripted(lines):
    it = iter(lines)

    def fake_input(prompt: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return fake_input


def test_chat_in_process(api_settings):
    from bot.chat_cli import run_chat

    out = io.StringIO()
    code = run_chat(api_settings, None, input_fn=scripted([SEED_QUESTION, "1", "/new", OOS_QUESTION]), out=out)
    text = out.getvalue()
    assert code == 0
    assert "【原则】" in text and "【案例】" in text and SEED_CASE_TITLE in text
    assert "—— 出处：" in text and "已开始新对话" in text
    assert "没有找到：知识库里没有相关内容" in text
    assert "\x1b[" not in text  # no colours when not a terminal


def test_chat_over_http(client):
    from bot.chat_cli import run_chat

    out = io.StringIO()
    code = run_chat(None, "http://testserver", input_fn=scripted([SEED_QUESTION, "问" * 600, "/quit", "never"]),
                    out=out, http_client=_Unclosable(client))
    text = out.getvalue()
    assert code == 0
    assert SEED_CASE_TITLE in text and "问题太长" in text


class _Unclosable:
    """Lends the module's TestClient to the chat without letting it close it."""

    def __init__(self, c: TestClient):
        self.c = c

    def post(self, *a, **kw):
        return self.c.post(*a, **kw)

    def close(self):
        pass


def test_chat_reports_a_missing_kb(tmp_path, model_dir):
    from bot.chat_cli import run_chat
    from tests.support.paths import make_settings

    out = io.StringIO()
    assert run_chat(make_settings(tmp_path / "none", model_dir), None, input_fn=scripted([]), out=out) == 1
    assert "NoVersionError" in out.getvalue()


def test_server_hands_settings_to_workers(api_settings, monkeypatch):
    from bot import server

    dumped = server._dump(api_settings.model_copy(update={"port": 9123, "workers": 3}))
    monkeypatch.setenv(server.SETTINGS_ENV, dumped)
    s = server.settings_from_env()
    assert s.port == 9123 and s.workers == 3
    assert s.admin_token.get_secret_value() == ADMIN_TOKEN
    assert s.data_dir == api_settings.data_dir and s.model == api_settings.model


def test_ingest_with_a_missing_model_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """No traceback: one line saying what is missing and how to get it; nothing published."""
    import json

    from bot.cli import main
    from tests.support.paths import SEEDS

    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_DOCS_DIRS", json.dumps([str(SEEDS)]))
    monkeypatch.setenv("KB_MODEL", str(tmp_path / "no-such-model"))
    assert main(["ingest"]) == 2
    err = capsys.readouterr().err
    assert "error: embedding model not found" in err and "kb setup-model" in err and "Traceback" not in err
    assert not (tmp_path / "data" / "versions" / "CURRENT").exists()


def test_tune_that_cannot_start_says_why_and_exits_2(tmp_path, monkeypatch, capsys):
    """No traceback: the bilingual reason (here: no version yet, then KB_USE_LABELS=false); nothing trained."""
    from bot.cli import main

    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_MODEL", str(tmp_path))  # a folder: the base model is not what stops it
    assert main(["tune", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "error: 还没有知识库版本" in err and "run `kb ingest` first" in err and "Traceback" not in err
    monkeypatch.setenv("KB_USE_LABELS", "false")
    assert main(["tune"]) == 2
    assert "KB_USE_LABELS=false" in capsys.readouterr().err


def test_config_doc_writes_the_configuration_doc(tmp_path):
    from bot.cli import main
    from kb import config_doc

    out = tmp_path / "configuration.md"
    assert main(["config-doc", "--out", str(out)]) == 0
    assert out.read_text("utf-8") == config_doc.render()


def test_the_terminal_does_not_repeat_a_cards_title_as_its_first_line():
    from bot.chat_cli import format_answer
    card = {"title": "用心倾听", "text": "用心倾听\n客户说话时不要打断。", "highlights": [], "doc_title": "手册"}
    out = format_answer({"matched": True, "principles": [card], "cases": []}, width=80)
    assert out.count("用心倾听") == 1 and "客户说话时不要打断。" in out
