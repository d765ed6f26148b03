"""Reviewer-facing plan files: what a stack would do, written without Pulumi or secrets.

`model` and `render` turn a recorded program run into files, `compare` explains the
difference between two plan folders. Only `build` imports Pulumi (through `offline`), so
`diff` and `merge` stay fast.
"""

from .compare import Comparison, compare_plans, load_plan_dir, render_comparison
from .model import PLAN_FILES, SECRET_TEXT, UNKNOWN_TEXT, PlanData, PlanError, PlanFolderError
from .render import render_files, write_plan

__all__ = [
    "PLAN_FILES", "SECRET_TEXT", "UNKNOWN_TEXT", "Comparison", "PlanData", "PlanError",
    "PlanFolderError",
    "compare_plans", "load_plan_dir", "render_comparison", "render_files", "write_plan",
]
