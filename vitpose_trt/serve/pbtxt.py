"""Protobuf text format (Triton's config.pbtxt) from plain Python values.

A message is a dict; a repeated field a list (of dicts for messages, of scalars otherwise); strings are
quoted, booleans lower-case, ints as they are; `Enum("KIND_GPU")` writes an enum value unquoted. Keys
are written in the dict's order. Enough for model configurations; the tests check every file it writes
against Triton's own ModelConfig schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

INDENT = "  "


@dataclass(frozen=True)
class Enum:
    """An enum value (written unquoted): Enum("TYPE_FP32")."""

    name: str


def pbtxt(message: dict, depth: int = 0) -> str:
    """The text format of `message` (a dict of field name -> value), one field per line."""
    lines = []
    pad = INDENT * depth
    for key, value in message.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key} {{\n{pbtxt(value, depth + 1)}{pad}}}\n")
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                lines.append(f"{pad}{key} {{\n{pbtxt(item, depth + 1)}{pad}}}\n")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [ {', '.join(_scalar(item) for item in value)} ]\n")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}\n")
    return "".join(lines)


def _scalar(value) -> str:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a protobuf text value")
