"""docs/configuration.md, generated from the `Settings` fields (`kb config-doc`): one row a setting with its
environment variable, type, default and description, so the table never says something the code does not."""
from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from kb.settings import Settings

DOC_PATH = Path("docs/configuration.md")
HEADER = """# Configuration

Every setting is an environment variable with the `KB_` prefix; lists are JSON
(`KB_CORS_ORIGINS='["https://crm.example.com"]'`). This file is generated from `kb/settings.py` by
`kb config-doc`; a test fails when the two differ. `kb serve` names every `KB_` variable that is no
setting (a misspelt name) in a warning at start.

| variable | type | default | description |
|---|---|---|---|
"""


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{json.dumps(a)}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if annotation is type(None):
        return "unset"
    if annotation is SecretStr:
        return "secret"
    return {Path: "path", str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation,
                                                                                            str(annotation))


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "*(unset)*"
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, list):
        value = [str(v) for v in value]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{text}`" if text != "" else "*(empty)*"


def render() -> str:
    """The whole of docs/configuration.md."""
    rows = []
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"Settings.{name} has no description")
        description = field.description.replace("|", "\\|")
        rows.append(f"| `KB_{name.upper()}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
    return HEADER + "\n".join(rows) + "\n"


def write(path: Path = DOC_PATH) -> Path:
    path.write_text(render(), "utf-8")
    return path
