"""Imports point one way: features <- models/ <- components/ <- pipeline/ <- pipeline_runner.py."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Bottom to top; a layer -> the layers it must not import (those above it).
LAYERS = ("features", "models", "components", "pipeline", "pipeline_runner")
ABOVE = {layer: LAYERS[i + 1 :] for i, layer in enumerate(LAYERS[:-1])}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _modules(layer: str) -> list[Path]:
    """The Python files of a layer: a package's modules, or a top-level module."""
    if (ROOT / layer).is_dir():
        return sorted((ROOT / layer).rglob("*.py"))
    return [ROOT / f"{layer}.py"]


def test_no_package_imports_a_package_above_it() -> None:
    upward = {
        (str(path.relative_to(ROOT)), name)
        for layer, above in ABOVE.items()
        for path in _modules(layer)
        for name in _imports(path)
        if name.split(".")[0] in above
    }

    assert not upward, f"imports of a layer above: {sorted(upward)}"
