"""The refusal catalogue (server/messages): every sentence is Chinese and tells a person what to do, with no
route, URL, role identifier, regular expression or Python value in it; every refusal the server code makes
names a code of the catalogue with the parameters its sentence needs; every field a route takes has a name
in words for the validation messages; a city's rewording replaces the words and nothing else."""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path

import pytest
import yaml
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from server import messages
from server.config import get_settings

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
CJK = re.compile(r"[\u4e00-\u9fff]")
ROLE_IDS = set(yaml.safe_load((SERVER / "messages" / "labels.yaml").read_text())["roles"])
# Words in Latin letters a person may meet in a sentence: formats, units and names of standards.
LATIN_WORDS = {
    "JPEG", "PNG", "WebP", "HEIC", "MB", "KB", "GB", "UUID", "JSON", "CSV", "YAML", "GeoJSON", "Open311",
    "WGS", "GCJ", "BD", "CGCS", "true", "false", "XML", "ID", "ISO", "GPS",
}  # fmt: skip
# The domain errors: a call of one of these is a refusal.
REFUSALS = {
    "DomainError", "NotFound", "Conflict", "Invalid", "Forbidden", "Unauthorized", "TooManyAttempts",
    "PhotoRejected", "PhotoBusy", "TooManyReports",
}  # fmt: skip


def _problems(code: str, sentence: str) -> list[str]:
    found = []
    bare = re.sub(r"\{[^}]*\}", "", sentence)
    if not CJK.search(bare):
        found.append("has no Chinese")
    if re.search(r"/api|https?:|/static|/open311|\.py\b", sentence):
        found.append("names a route or a URL")
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare))
    if words & ROLE_IDS:
        found.append(f"names a role identifier {sorted(words & ROLE_IDS)}")
    foreign = {w for w in words - ROLE_IDS if w not in LATIN_WORDS}
    if foreign:
        found.append(f"has words in Latin letters {sorted(foreign)}")
    if re.search(r"\\[dws]|\[\^|\{\d|\.\*|\^\[|!r\}|\bNone\b", sentence):
        found.append("shows a regular expression or a Python value")
    return [f"{code}: {p}" for p in found]


def test_every_sentence_of_the_catalogue_is_chinese_and_plain():
    problems = [p for code, sentence in messages.catalogue().items() for p in _problems(code, sentence)]
    assert not problems, "\n".join(problems)


def test_every_role_and_field_label_is_chinese():
    labels = yaml.safe_load((SERVER / "messages" / "labels.yaml").read_text())
    plain = [f"{kind}.{k}: {v}" for kind in labels for k, v in labels[kind].items() if not CJK.search(v)]
    assert not plain, plain


def _server_sources():
    for path in sorted(SERVER.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _refusal_calls():
    for path, tree in _server_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name in REFUSALS and not (path.name == "errors.py" and name == "DomainError"):
                    yield path.relative_to(ROOT), node


def test_every_refusal_names_a_code_of_the_catalogue_with_its_parameters():
    catalogue = messages.catalogue()
    problems = []
    for path, call in _refusal_calls():
        where = f"{path}:{call.lineno}"
        if not call.args or not (
            isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)
        ):
            problems.append(f"{where}: the first argument is not a message code written out")
            continue
        code = call.args[0].value
        if code not in catalogue:
            problems.append(f"{where}: {code} is not in the catalogue")
            continue
        if any(k.arg is None for k in call.keywords):
            continue  # **params: checked when it runs
        missing = messages.placeholders(catalogue[code]) - {k.arg for k in call.keywords}
        if missing:
            problems.append(f"{where}: {code} needs {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_no_route_refuses_with_text_outside_the_catalogue():
    """Refusals are domain errors: no HTTPException with its own words anywhere in the server."""
    raised = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _server_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "HTTPException"
    ]
    assert not raised, raised


def test_every_code_of_the_catalogue_is_used():
    """A sentence nobody can meet is dead text: every code is named in the server's code (the validation
    codes are chosen by Pydantic's error type)."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in SERVER.rglob("*.py"))
    unused = [
        code
        for code in messages.catalogue()
        if not code.startswith("validation.") and f'"{code}"' not in source
    ]
    assert not unused, unused


def _fields(dependant: Dependant):
    """The names of every parameter a route reads, and of every field of its body models, however deep."""
    seen: set[type] = set()

    def model_fields(model):
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            yield info.alias or name
            yield from annotation_fields(info.annotation)

    def annotation_fields(annotation):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from model_fields(annotation)
        for argument in getattr(annotation, "__args__", ()) or ():
            yield from annotation_fields(argument)

    for param in (
        dependant.path_params + dependant.query_params + dependant.header_params + dependant.body_params
    ):
        yield param.alias
        yield from annotation_fields(param.field_info.annotation)
    for sub in dependant.dependencies:
        yield from _fields(sub)


def test_every_field_a_route_takes_has_a_name_in_words():
    from server.main import create_app

    unnamed = set()
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for name in _fields(route.dependant):
                if messages.field_label(name.split("[")[-1].rstrip("]")) is None and name.lower() not in {
                    "authorization"
                }:
                    unnamed.add(f"{name} ({context.path})")
    assert not unnamed, sorted(unnamed)


def test_a_refusal_answers_its_code_its_parameters_and_the_sentence(client):
    resp = client.get("/api/cases/X-0000/detail-that-is-not-there")
    assert resp.status_code == 404
    assert resp.json()["code"] == "http.not_found" and CJK.search(resp.json()["detail"])
    refused = client.get("/api/auth/me")
    assert refused.status_code == 401
    assert refused.json() == {
        "detail": messages.text("auth.login_required"),
        "code": "auth.login_required",
        "params": {},
    }


def test_a_validation_error_names_the_field_in_words(client, admin_headers):
    resp = client.get("/api/grids/locate", params={"lon": "east", "lat": "36.6"}, headers=admin_headers)
    body = resp.json()
    assert resp.status_code == 422 and body["code"] == "validation.request"
    assert body["detail"] == "经度应为数字" and body["errors"][0]["loc"] == ["query", "lon"]
    report = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": 36.6753, "lat": 117.0231}
    swapped = client.post("/api/cases", json=report, headers=admin_headers)
    assert swapped.status_code == 422 and swapped.json()["detail"] == "纬度超出范围：应不大于 90"


def test_a_city_rewords_a_message_but_not_its_code_or_parameters(tmp_path, monkeypatch):
    own = tmp_path / "words.yaml"
    own.write_text("auth.password_too_short: 密码至少要 {min_length} 位\nroles:\n  grid_head: 网格负责人\n")
    monkeypatch.setenv("GRIDOPS_MESSAGES_FILE", str(own))
    get_settings.cache_clear()
    messages._catalogue.cache_clear()
    try:
        assert messages.text("auth.password_too_short", min_length=8) == "密码至少要 8 位"
        assert messages.role_names(["grid_head", "admin"]) == "网格负责人"
        for wrong, why in [
            ("auth.password_too_short: 至少 {n} 位\n", "must name the parameters"),
            ("auth.no_such_code: 随便\n", "there is no message"),
        ]:
            own.write_text(wrong)
            messages._catalogue.cache_clear()
            with pytest.raises(messages.CatalogueError, match=why):
                messages.catalogue()
    finally:
        monkeypatch.delenv("GRIDOPS_MESSAGES_FILE")
        get_settings.cache_clear()
        messages._catalogue.cache_clear()
