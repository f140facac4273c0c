"""The package table of docs/architecture.md is the import rule: every import between the
project's packages must be one the table allows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(?P<package>[a-z_]+)` \| [^|]+ \| (?P<imports>[^|]+) \|$")


def allowed_imports() -> dict[str, set[str] | None]:
    """package → the packages it may import (None: every package)."""
    table: dict[str, set[str] | None] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line.strip())
        if match is None:
            continue
        imports = match["imports"].strip()
        if imports == "every package":
            table[match["package"]] = None
        elif imports == "–":
            table[match["package"]] = set()
        else:
            table[match["package"]] = {name.strip() for name in imports.split(",")}
    return table


def project_imports(package: str, packages: set[str], root: Path = ROOT) -> dict[str, set[str]]:
    """imported package → the files of `package` that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((root / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in packages and top != package:
                    found.setdefault(top, set()).add(str(path.relative_to(root)))
    return found


def test_the_table_names_every_package_of_the_project() -> None:
    table = allowed_imports()
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "docs"}
    assert set(table) == on_disk, "docs/architecture.md and the packages on disk disagree"
    for package, imports in table.items():
        assert imports is None or imports <= set(table), f"{package} may import an unknown one"


def test_no_package_imports_one_the_table_does_not_allow() -> None:
    table = allowed_imports()
    packages = set(table)
    breaches = [
        f"{package} imports {imported} ({', '.join(sorted(files))})"
        for package, allowed in table.items()
        if allowed is not None
        for imported, files in project_imports(package, packages).items()
        if imported not in allowed
    ]
    assert not breaches, "\n".join(breaches)


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The check itself can fail: a store module importing the API is found."""
    sample = tmp_path / "store"
    sample.mkdir()
    (sample / "bad.py").write_text("from api.app import create_app\n", encoding="utf-8")
    assert project_imports("store", {"store", "api"}, tmp_path) == {"api": {"store/bad.py"}}
