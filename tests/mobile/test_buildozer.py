"""The Android build spec: it parses as buildozer reads it, asks for the permissions the app needs,
declares the patrol's foreground service, and lists every third-party library the app really imports."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "mobile" / "buildozer.spec"
PROJECT_PACKAGES = {"mobile", "gis", "grids"}
PERMISSIONS = {
    "CAMERA",
    "ACCESS_FINE_LOCATION",
    "ACCESS_COARSE_LOCATION",
    "ACCESS_BACKGROUND_LOCATION",
    "INTERNET",
    "ACCESS_NETWORK_STATE",
    "FOREGROUND_SERVICE",
    "FOREGROUND_SERVICE_LOCATION",
    "POST_NOTIFICATIONS",
    "WAKE_LOCK",
    "RECORD_AUDIO",  # voice input of a description
}
# python-for-android's name for a distribution, where it differs from the distribution's own (normalised):
# PyPI publishes kivy_garden.mapview both as "kivy-garden.mapview" and as "mapview"; the spec asks for
# "mapview".
P4A_NAMES = {"kivy-garden.mapview": "mapview"}
# Modules a library the app uses imports only when they happen to be installed, working without them: on
# the desktop the server's own dependencies bring them (WeasyPrint's fonttools brings brotli, which urllib3
# then uses for compressed answers); on the phone they are absent and nothing needs them.
OPTIONAL = {"brotli", "_brotli"}

# Run in a fresh interpreter: import every module under mobile/ (but __main__ modules: importing one runs
# the app, so it should do no more than call into the others), then report the modules walked, those
# that failed to import (with their error) and, by top-level name, the files of the modules the imports
# loaded (those loaded at start-up, such as site hooks, left out).
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys, traceback
already = set(sys.modules)
import mobile

failed = {}
walked = []

def failure(name):
    failed[name] = traceback.format_exc(limit=-3)

for info in pkgutil.walk_packages(mobile.__path__, "mobile.", onerror=failure):
    if info.name.rpartition(".")[2] == "__main__":  # a program: importing it runs the app
        continue
    walked.append(info.name)
    try:
        importlib.import_module(info.name)
    except BaseException:
        failure(info.name)

loaded = {}
for name, module in list(sys.modules.items()):
    if name in already or module is None:
        continue
    location = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", None) or []), None)
    loaded.setdefault(name.partition(".")[0], []).extend([location] if location else [])
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"walked": walked, "loaded": loaded, "failed": failed}, out)
"""


def read_spec() -> ConfigParser:
    """The spec as buildozer's parser reads it: a ConfigParser allowing keys without values, with
    case-sensitive keys (buildozer.specparser.SpecParser)."""
    spec = ConfigParser(allow_no_value=True)
    spec.optionxform = str
    assert spec.read(SPEC, encoding="utf-8") == [str(SPEC)]
    return spec


def app_list(key: str) -> list[str]:
    """A list value of [app] (buildozer's comma-separated lists)."""
    return [item.strip() for item in read_spec().get("app", key).split(",") if item.strip()]


def normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def test_the_spec_parses_as_buildozer_reads_it():
    spec = read_spec()
    for section in spec.sections():
        for key in spec[section]:
            spec.get(section, key)  # every value interpolates
    app = spec["app"]
    assert app["title"] in ("GridOps 巡查", "GridOps Inspector")
    assert (app["package.name"], app["package.domain"], app["source.dir"]) == ("gridops", "org.gridops", ".")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert app["version"] == pyproject["project"]["version"]
    assert app["orientation"] == "portrait"
    assert (app.getint("android.api"), app.getint("android.minapi")) == (34, 24)
    assert app_list("android.archs") == ["arm64-v8a", "armeabi-v7a"]
    assert {"py", "kv"} <= set(app_list("source.include_exts"))
    assert spec.getint("buildozer", "log_level") == 2


def test_the_permissions_the_app_needs():
    assert set(app_list("android.permissions")) == PERMISSIONS


def test_the_patrol_is_a_foreground_location_service():
    [service] = app_list("services")
    name, entry, *options = service.split(":")
    assert name == "Patrol"
    assert entry == "mobile/service/patrol.py"  # in the staged layout the spec describes
    assert "foreground" in options
    assert "foregroundServiceType=location" in options


def test_every_library_the_app_imports_is_a_requirement(tmp_path):
    """Import every module under mobile/ in a fresh, headless interpreter, map what the imports loaded
    to the distributions that provide it, and find each (by python-for-android's name) in the spec's
    requirements. The standard library and this repository's packages need no requirement; every module
    must import on a desktop (Android-only imports belong inside the code that runs on Android). Only
    ``__main__`` modules are not imported: importing one would start the app."""
    report = tmp_path / "imports.json"
    env = os.environ | {
        "KIVY_NO_ARGS": "1",
        "KIVY_USE_DEFAULTCONFIG": "1",
        "KIVY_HOME": str(tmp_path / "kivy"),
        "SDL_VIDEODRIVER": "offscreen",
        "KIVY_NO_FILELOG": "1",
    }
    env.pop("ANDROID_ARGUMENT", None)
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["failed"] == {}, "modules under mobile/ that do not import headless: " + json.dumps(
        result["failed"], indent=1
    )
    loaded: dict[str, list[str]] = result["loaded"]
    assert {"mobile.platform.camera", "mobile.services.photos"} <= set(result["walked"])
    assert "server" not in loaded, "the app talks to the server over HTTP only: it must not import it"

    site_packages = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    providers = importlib.metadata.packages_distributions()
    requirements = {
        normalise(re.split(r"[=<>!~\[@ ]", item, maxsplit=1)[0]) for item in app_list("requirements")
    }
    third_party = {
        top: {str(Path(file).resolve()) for file in files}
        for top, files in loaded.items()
        if top not in sys.stdlib_module_names
        and top not in PROJECT_PACKAGES
        and top not in OPTIONAL
        and any(Path(file).resolve().is_relative_to(site) for file in files for site in site_packages)
    }
    assert {"PIL", "requests"} <= third_party.keys()  # imported by the photo pipeline and the API client

    missing = {}
    for top, files in sorted(third_party.items()):
        distributions = providers.get(top, [])
        if len(distributions) > 1:  # a namespace package: the distributions whose files were loaded
            distributions = [name for name in distributions if _owns(name, files)] or distributions
        names = {P4A_NAMES.get(normalise(name), normalise(name)) for name in distributions}
        if not names & requirements:
            missing[top] = sorted(names) or "no installed distribution provides it"
    assert missing == {}, f"imported by the app but not in the spec's requirements: {missing}"


def _owns(distribution: str, files: set[str]) -> bool:
    dist = importlib.metadata.distribution(distribution)
    return any(str(Path(dist.locate_file(file)).resolve()) in files for file in dist.files or [])


def test_the_staging_script_lays_out_a_self_contained_build_folder(tmp_path):
    """scripts/stage-android.sh makes the folder buildozer builds from: the spec, main.py at the top, the
    service's script where the spec says, and the three packages, which import from there alone."""
    staged = tmp_path / "android"
    subprocess.run([ROOT / "scripts" / "stage-android.sh", staged], check=True, capture_output=True)
    assert (staged / "buildozer.spec").read_text() == SPEC.read_text()
    assert (staged / "main.py").read_text() == (ROOT / "mobile" / "main.py").read_text()
    (service,) = app_list("services")
    assert (staged / service.split(":")[1]).is_file()
    assert (staged / "grids" / "data").is_dir()
    assert not list(staged.rglob("__pycache__"))
    check = (
        "import sys, gis.crs, grids.locator, mobile.services.app, mobile.service.patrol\n"
        "print(sorted({m.__file__.split('/android/')[0] for m in "
        "(gis.crs, grids.locator, mobile.services.app, mobile.service.patrol)}))"
    )
    found = subprocess.run(
        [sys.executable, "-c", check], cwd=staged, check=True, capture_output=True, text=True
    ).stdout
    assert found.strip() == repr([str(tmp_path)])
