"""Every module of every package imports only in the allowed direction: cli -> web -> notify/store -> engine, the
engine knows nothing of ours or of the web and the database, and the client stands alone on the standard library.

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)

# What each layer of `diagnoser` may import from `diagnoser` itself (the top-level package is always allowed: it
# holds the version), and which third-party packages it may use.
OURS = {
    "engine": {"engine"},
    "store": {"store", "engine"},
    "notify": {"notify", "store", "engine"},
    "web": {"web", "store", "notify", "engine", "settings"},
    "cli": {"cli", "web", "store", "notify", "engine", "settings", "gunicorn_conf"},
    "settings": set(),
    "gunicorn_conf": {"settings", "store"},
    "__main__": {"cli"},
}
THIRD_PARTY = {
    "engine": {"regex", "yaml", "ahocorasick"},
    "store": {"sqlalchemy", "alembic", "argon2", "cryptography"},
    "notify": {"sqlalchemy"},
    "web": {"flask", "werkzeug", "itsdangerous", "jinja2", "markupsafe", "sqlalchemy", "gunicorn", "prometheus_client"},
    "cli": {"click", "gunicorn", "rich", "sqlalchemy", "yaml"},
    "settings": {"platformdirs"},
    "gunicorn_conf": {"prometheus_client"},
    "__main__": set(),
}


def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            elif node.module != "__future__":
                found.append((node.lineno, node.module or ""))
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _diagnoser_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "diagnoser").rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _diagnoser_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_of_diagnoser_imports_in_the_allowed_direction(path: Path) -> None:
    relative = path.relative_to(ROOT).with_suffix("")
    module = ".".join(relative.parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    layer = _layer(module.removesuffix(".__init__"))
    if layer == "__init__":
        return  # the package's own __init__ only holds the version
    assert layer in OURS, f"{module}: a new layer; add it to OURS and THIRD_PARTY in this test, with its direction"
    problems = []
    for line, name in _imports(path, package):
        top = name.split(".")[0]
        if top == "diagnoser":
            target = _layer(name)
            # diagnoser._rules and diagnoser._migrations are data shipped in the package, not code of a layer
            if target not in OURS[layer] | {"__init__", "_rules", "_migrations"} and name != "diagnoser":
                problems.append(f"line {line}: {layer} must not import {name}")
        elif top not in STDLIB and top not in THIRD_PARTY[layer]:
            problems.append(f"line {line}: {layer} must not import {name}")
    assert not problems, f"{module}:\n" + "\n".join(problems)


def _client_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "client" / "diagnoser_client").rglob("*.py") if "__pycache__" not in p.parts)


# The client runs inside the user's training job: the standard library only, and the frameworks only in the
# modules that exist to hook them, only when the user's program has already imported them.
CLIENT_FRAMEWORK_MODULES = {"keras.py": {"keras", "tensorflow", "tf_keras"}}


@pytest.mark.parametrize("path", _client_modules(), ids=lambda p: p.name)
def test_each_module_of_the_client_stands_alone_on_the_standard_library(path: Path) -> None:
    allowed = CLIENT_FRAMEWORK_MODULES.get(path.name, set())
    problems = [f"line {line}: imports {name}" for line, name in _imports(path, "diagnoser_client")
                if name.split(".")[0] not in STDLIB | {"diagnoser_client"} | allowed]
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_every_package_is_covered() -> None:
    layers = {_layer(".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in _diagnoser_modules()}
    assert layers - {"__init__"} <= set(OURS)
    assert _client_modules()
