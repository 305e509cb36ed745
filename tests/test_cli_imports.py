"""The CLI parses arguments, calls the floor (digest/app) and prints: it imports none of the
stages below the floor, not even lazily inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import digest.cli

BELOW = ("digest.store", "digest.fetch", "digest.sources", "digest.rank", "digest.deliver")
CLI = Path(digest.cli.__file__).parent


def imported(source: str) -> list[str]:
    """Every module a source text imports (`from digest import rank` imports digest.rank)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def below(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in BELOW)


def test_the_cli_imports_nothing_below_the_floor() -> None:
    files = sorted(CLI.glob("*.py"))
    assert len(files) >= 5  # the walk found the CLI's modules
    crossing = [
        f"{path.name}: {module}"
        for path in files
        for module in imported(path.read_text(encoding="utf-8"))
        if below(module)
    ]
    assert crossing == []


def test_the_walk_sees_every_way_of_importing_a_stage() -> None:
    source = (
        "import digest.store\n"
        "from digest import rank\n"
        "from digest.deliver.sender import Clock\n"
        "def later():\n"
        "    from digest.fetch import Fetcher\n"
        "from digest import delivery, sourcesx\n"
        "from digest.app import flow\n"
    )
    assert [m for m in imported(source) if below(m)] == [
        "digest.store",
        "digest.rank",
        "digest.deliver.sender",
        "digest.deliver.sender.Clock",
        "digest.fetch",
        "digest.fetch.Fetcher",
    ]


def private_imports(source: str) -> list[str]:
    """Names starting with `_` imported from another digest.cli module."""
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("digest.cli")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_cli_module_reaches_into_another_ones_private_names() -> None:
    assert private_imports("from digest.cli.commands import _config, print_json\n") == [
        "digest.cli.commands._config"
    ]
    reaching = [
        f"{path.name}: {name}"
        for path in sorted(CLI.glob("*.py"))
        for name in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert reaching == []
