"""Reviewer-facing plan files: what a stack would do, written without Pulumi or secrets.

`model` and `render` turn a recorded program run into files, `compare` explains the
difference between two plan folders. Only `build` imports Pulumi (through `offline`), so
`diff` and `merge` stay fast. Names below are imported on first use: a plan without
`--compare` never loads `compare`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "Comparison": ".compare", "compare_plans": ".compare", "load_plan_dir": ".compare",
    "render_comparison": ".compare",
    "PLAN_FILES": ".model", "SECRET_TEXT": ".model", "UNKNOWN_TEXT": ".model",
    "PlanData": ".model", "PlanError": ".model", "PlanFolderError": ".model",
    "render_files": ".render", "write_plan": ".render",
}

if TYPE_CHECKING:
    from .compare import Comparison, compare_plans, load_plan_dir, render_comparison
    from .model import PLAN_FILES, SECRET_TEXT, UNKNOWN_TEXT, PlanData, PlanError, PlanFolderError
    from .render import render_files, write_plan


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module_name, __name__), name)


__all__ = [
    "PLAN_FILES", "SECRET_TEXT", "UNKNOWN_TEXT", "Comparison", "PlanData", "PlanError",
    "PlanFolderError",
    "compare_plans", "load_plan_dir", "render_comparison", "render_files", "write_plan",
]
