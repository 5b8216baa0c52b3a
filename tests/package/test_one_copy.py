"""One copy of each primitive: the slug rule, the zone names and the atomic file writer.

Each test reads the package source and fails when a second copy comes back, naming where it is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from lakehouse import names

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "lakehouse"
RUN_VARS_MACRO = REPO / "dbt_project" / "macros" / "run_vars.sql"
#: The dbt folders written by hand (not target/ or dbt_packages/).
DBT_SOURCE_DIRS = ("macros", "models", "tests")

#: The start of the slug regex: any class pair like it outside lakehouse/names.py is a copy.
SLUG_STEM = names.SLUG_REGEX.split("{")[0]

#: Modules that may call os.fsync / os.replace / os.rename / os.link and friends, and why.
FILE_COMMIT_MODULES = {
    "lakehouse/dataplane/atomic.py": "the package's one atomic writer (temp file, fsync, rename)",
}
_FILE_COMMIT_CALLS = {"fsync", "fdatasync", "replace", "rename", "renames", "link"}

#: Modules that spell out two or more zone names, other than lakehouse/names.py. They are not this
#: issue's to change (each is reported in issue 8); a new entry here needs a reason.
ZONE_LIST_EXCEPTIONS: dict[str, str] = {}
_ZONE_NAMES = frozenset(names.ZONES)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(REPO).as_posix(), path


def _parsed() -> Iterator[tuple[str, ast.Module]]:
    for rel, path in _modules():
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def test_the_slug_regex_lives_only_in_names() -> None:
    copies = [
        f"{rel}:{n}"
        for rel, path in _modules()
        if rel != "lakehouse/names.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SLUG_STEM in line
    ]
    assert copies == [], f"slug rule copied outside lakehouse/names.py (use SLUG_REGEX): {copies}"
    defined = [
        f"{rel}:{node.lineno}"
        for rel, tree in _parsed()
        if rel != "lakehouse/names.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name in ("validate_slug", "is_slug")
    ]
    assert defined == [], f"slug check defined outside lakehouse/names.py: {defined}"


def test_the_dbt_company_macro_checks_the_python_slug_rule() -> None:
    text = RUN_VARS_MACRO.read_text(encoding="utf-8")
    macro = re.search(r"{% macro company\(\) -%}(.*?){%- endmacro %}", text, re.DOTALL)
    assert macro is not None, f"no company() macro in {RUN_VARS_MACRO}"
    checks = re.findall(r"modules\.re\.match\('([^']*)', raw\)", macro.group(1))
    # The macro trims the var first, so re.match with ^...$ matches the same values as fullmatch.
    assert "| trim" in macro.group(1)
    assert checks == [f"^{names.SLUG_REGEX}$"], "the company() macro drifted from lakehouse.names.SLUG_REGEX"
    others = [
        p.relative_to(REPO).as_posix()
        for folder in DBT_SOURCE_DIRS
        for p in sorted((REPO / "dbt_project" / folder).rglob("*.sql"))
        if p != RUN_VARS_MACRO and SLUG_STEM in p.read_text(encoding="utf-8")
    ]
    assert others == [], f"slug rule copied in dbt files other than run_vars.sql: {others}"


def _commit_calls(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "shutil"):
            for alias in node.names:
                if alias.name in _FILE_COMMIT_CALLS or alias.name == "move":
                    yield node.lineno, f"from {node.module} import {alias.name}"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (
                (node.func.value.id == "os" and node.func.attr in _FILE_COMMIT_CALLS)
                or (node.func.value.id == "shutil" and node.func.attr == "move")
            )
        ):
            yield node.lineno, f"{node.func.value.id}.{node.func.attr}()"


def test_only_the_atomic_module_fsyncs_and_renames() -> None:
    found = [
        f"{rel}:{line} {what}"
        for rel, tree in _parsed()
        if rel not in FILE_COMMIT_MODULES
        for line, what in _commit_calls(tree)
    ]
    assert found == [], f"write files through lakehouse.dataplane.atomic instead: {found}"


def _zone_lists(tree: ast.Module) -> Iterator[tuple[int, list[str]]]:
    for node in ast.walk(tree):
        items: list[ast.expr | None]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = list(node.keys)
        else:
            continue
        spelled = [i.value for i in items if isinstance(i, ast.Constant) and i.value in _ZONE_NAMES]
        if len(spelled) >= 2 and len(spelled) == len(items):
            yield node.lineno, spelled


def test_the_zone_list_is_spelled_only_in_names() -> None:
    found = [
        f"{rel}:{line} {spelled}"
        for rel, tree in _parsed()
        if rel != "lakehouse/names.py" and rel not in ZONE_LIST_EXCEPTIONS
        for line, spelled in _zone_lists(tree)
    ]
    assert found == [], f"use lakehouse.names.ZONES / DATA_ZONES instead of spelling the zones: {found}"


def test_zone_names_derive_from_one_literal() -> None:
    from lakehouse.dataplane import zones
    from lakehouse.query import catalog

    assert names.DATA_ZONES == ("bronze", "silver", "gold")
    assert names.ZONES == (*names.DATA_ZONES, "manifests")
    assert zones.ZONES is names.ZONES
    assert zones.DATA_ZONES is names.DATA_ZONES
    assert catalog.CATALOG_ZONES is names.DATA_ZONES
