"""The user dictionary and the synonyms an admin edits are checked line by line before they are written
(kb/dictionary.py)."""
from __future__ import annotations

import pytest


def test_dictionary_validation(tmp_path):
    from kb.dictionary import read_synonyms, write_synonyms, write_user_dict
    from kb.settings import Settings
    from kb.state import open_content

    s = open_content(Settings(data_dir=tmp_path)).dictionary
    write_user_dict(s, "服务补救 20 n\n首问负责制\n")
    with pytest.raises(ValueError):
        write_user_dict(s, "词 abc n\n")
    with pytest.raises(ValueError):
        write_synonyms(s, "客户\n")
    write_synonyms(s, "客户 顾客\n")
    assert read_synonyms(s).startswith("客户 顾客")
