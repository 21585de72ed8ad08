"""pydantic's validation errors -> problems in words people understand, each "key.path: message"
(`targets.sw2.port: not a port number`), with a hint for a misplaced or misspelt key.

Messages are built from the error's type and location only, never from its input: that may
be a password.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import get_args

from pydantic import BaseModel, ValidationError

from lic_exporter.collect.schema import LayerKeys, TargetKeys

_SHAPES = {"dict_type": "expected a mapping (key: value)", "model_type": "expected a mapping (key: value)",
           "model_attributes_type": "expected a mapping (key: value)", "list_type": "expected a list",
           "missing": "missing"}


def _key_path(prefix: str, loc: Iterable[str | int]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):  # a list's item: groups[1]
            path += f"[{part}]"
            continue
        path = f"{path}.{part}" if path else str(part)
    return path or "(top level)"


def explain(error: ValidationError, model: type[BaseModel], prefix: str) -> list[str]:
    """Each problem of `error` as "key.path: message", the path starting at `prefix`."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        message = _SHAPES.get(item["type"], item["msg"])
        if item["type"] == "extra_forbidden":
            message = "unknown key" + _hint(item["loc"], model)
        problems.append(f"{_key_path(prefix, item['loc'])}: {message}")
    return problems


def _hint(loc: tuple[str | int, ...], model: type[BaseModel]) -> str:
    """What an unknown key may have meant: a key of targets only, or a near spelling."""
    key = str(loc[-1])
    if model is LayerKeys and key in TargetKeys.model_fields:
        return f" ({key} belongs to a target)"
    close = difflib.get_close_matches(key, _keys_at(model, loc[:-1]), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys of the model found at `loc` inside `model` (for the inventories' nested keys)."""
    for part in loc:
        field_info = model.model_fields.get(part) if isinstance(part, str) else None
        inner = (get_args(field_info.annotation) or (field_info.annotation,)) if field_info else ()
        models = [kind for kind in inner if isinstance(kind, type) and issubclass(kind, BaseModel)]
        if not models:
            return []
        model = models[0]
    return list(model.model_fields)
