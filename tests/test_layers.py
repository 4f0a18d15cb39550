"""Which package may import which (ARCHITECTURE.md): read from every module's import statements.

`vitpose_trt/__init__.py` imports the runtime for the public API, so importing any module pulls it in at run
time; the rule is about what each module's own code depends on, which is what this test reads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vitpose_trt

PACKAGE = Path(vitpose_trt.__file__).parent
#: Package -> packages its modules must not import (directly).
FORBIDDEN = {
    "artifacts": {"model", "export", "engine", "runtime", "detect", "apps", "bench", "cli", "serve"},
    "export": {"runtime", "apps", "bench", "cli", "serve"},
    "engine": {"runtime", "export", "detect", "apps", "bench", "cli", "serve"},
    "runtime": {"export", "apps", "bench", "cli", "serve", "model.loading"},
    "detect": {"export", "apps", "bench", "cli", "serve"},
    "apps": {"bench", "cli", "serve"},
}
#: detect's math (numpy + artifacts) is what export may use; its detector and inputs run on the runtime.
DETECT_MATH = {"detect.layouts", "detect.fitting", "detect.decode", "detect.nms", "detect.coco_classes"}


def _imported(path: Path) -> set[str]:
    """vitpose_trt-relative names of the modules `path` imports (relative and absolute imports)."""
    module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    parts = module.split(".")
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and node.module.startswith("vitpose_trt"):
                target = node.module.removeprefix("vitpose_trt").lstrip(".")
            else:
                continue
            names |= {target} | {f"{target}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.removeprefix("vitpose_trt.") for a in node.names if a.name.startswith("vitpose_trt.")}
    return names


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_import_only_downwards(path):
    layer = path.relative_to(PACKAGE).parts[0]
    forbidden = FORBIDDEN.get(layer, set())
    bad = sorted(name for name in _imported(path)
                 if any(name == f or name.startswith(f + ".") for f in forbidden))
    assert bad == [], f"{path.relative_to(PACKAGE)} imports {bad} (see ARCHITECTURE.md)"


def test_export_uses_only_the_detection_math():
    for path in (PACKAGE / "export").glob("*.py"):
        detect = {n for n in _imported(path) if n.startswith("detect.") and n.count(".") == 1}
        assert detect <= DETECT_MATH, f"export/{path.name} imports {sorted(detect - DETECT_MATH)}"
