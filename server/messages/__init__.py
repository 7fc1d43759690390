"""Every word GridOps says to a person when it refuses something, in one place.

The catalogue is the YAML files beside this module, one per domain (``case.yaml`` holds the codes
``case.*``): a stable code, for programs, mapped to a Chinese sentence for the person in front of the screen,
saying what happened and what to do next, with ``{name}`` for its parameters. ``labels.yaml`` names the
fields of requests and the roles in words. A city rewords any of them without touching the code through the
setting ``messages_file`` (a YAML mapping of code to sentence, or ``fields`` / ``roles`` to their labels):
it may change the words, not the codes or the parameters.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_DIR = Path(__file__).resolve().parent
LABELS = "labels"


class CatalogueError(RuntimeError):
    """The catalogue or a city's rewording of it is malformed (a fault of set-up, found at start)."""


def placeholders(template: str) -> set[str]:
    """The parameters a sentence names."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _read(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise CatalogueError(f"{path.name}: not a mapping")
    return data


@cache
def _catalogue() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(code -> sentence, {"fields": ..., "roles": ...}), the city's rewording applied."""
    from server.config import get_settings  # the settings import nothing of the domains

    sentences: dict[str, str] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.yaml")):
        if path.stem == LABELS:
            continue
        for code, text in _read(path).items():
            if not str(code).startswith(f"{path.stem}."):
                raise CatalogueError(f"{path.name}: the code {code} belongs in another file")
            sentences[str(code)] = str(text)
    labels = {
        kind: {str(k): str(v) for k, v in entries.items()}
        for kind, entries in _read(CATALOGUE_DIR / f"{LABELS}.yaml").items()
    }
    override = get_settings().messages_file
    if override is not None:
        for code, text in _read(Path(override)).items():
            if code in labels:
                unknown = set(text) - set(labels[code])
                if unknown:
                    raise CatalogueError(f"{override}: no {code} named {', '.join(sorted(unknown))}")
                labels[code].update({str(k): str(v) for k, v in text.items()})
                continue
            if code not in sentences:
                raise CatalogueError(f"{override}: there is no message {code}")
            if placeholders(str(text)) != placeholders(sentences[code]):
                raise CatalogueError(
                    f"{override}: {code} must name the parameters {sorted(placeholders(sentences[code]))}"
                )
            sentences[code] = str(text)
    return sentences, labels


def catalogue() -> dict[str, str]:
    """Every message code and its sentence."""
    return _catalogue()[0]


def text(code: str, /, **params: Any) -> str:
    """The sentence of ``code`` with its parameters filled in (a code missing from the catalogue, or a
    parameter missing from the call, is a fault of the code: KeyError)."""
    return catalogue()[code].format(**params)


def field_label(name: str) -> str | None:
    """A request field's name in words (e.g. ``lat`` -> 纬度), or None when the catalogue has none."""
    return _catalogue()[1]["fields"].get(name)


def role_name(role: str) -> str:
    """A role in words (e.g. ``grid_head`` -> 网格长)."""
    return _catalogue()[1]["roles"][role]


def role_names(roles: Iterable[str]) -> str:
    """Roles in words, joined with 或 (the administrator left out when someone else is named)."""
    order = list(_catalogue()[1]["roles"])  # as labels.yaml lists them
    names = sorted(set(roles), key=order.index)
    if len(names) > 1:
        names = [r for r in names if r != "admin"]
    return "或".join(role_name(r) for r in names)
