"""The dependency graph as a Mermaid flowchart: parent -> child solid, dependencies dotted."""

import re
from collections.abc import Sequence
from typing import Any

from .markdown import one_line
from .model import short_type, urn_parts

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def _label(type_token: str, name: str) -> str:
    def escape(text: str) -> str:
        # One line (a line break would end the node and start a statement of its own), with
        # invisible characters shown; Mermaid labels are HTML-ish: quotes, angle brackets and
        # backticks (which open a markdown label) need entities.
        return (one_line(text).replace("&", "#amp;")
                .replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
                .replace("`", "#96;"))

    return f"{escape(short_type(type_token) or 'Resource')}<br/>{escape(name)}"


def mermaid_graph(resources: Sequence[dict[str, Any]]) -> str:
    """`flowchart TD`, one node per resource, plus one for the stack they hang from."""
    known = {resource["urn"] for resource in resources}
    referenced = {urn for r in resources for urn in (r["parent"], *r["dependencies"]) if urn}
    # Resources outside the record (the stack itself) first, so the chart reads top-down.
    entries = [(urn, *urn_parts(urn)) for urn in sorted(referenced - known)]
    entries += [(r["urn"], r["type"], r["name"]) for r in resources]

    ids: dict[str, str] = {}
    taken: set[str] = set()
    lines = ["flowchart TD",
             "    %% solid: parent --> child; dotted: dependency -.-> dependent"]
    for urn, type_token, name in entries:
        # Readable ids that stay put when other resources come and go; `r_` keeps them
        # clear of Mermaid keywords such as `end`.
        base = "r_" + _UNSAFE.sub("_", f"{short_type(type_token)}_{name}").strip("_")
        candidate, counter = base, 2
        while candidate in taken:
            candidate, counter = f"{base}_{counter}", counter + 1
        ids[urn] = candidate
        taken.add(candidate)
        lines.append(f'    {candidate}["{_label(type_token, name)}"]')
    for resource in resources:
        child = ids[resource["urn"]]
        parent = resource["parent"]
        if parent:
            lines.append(f"    {ids[parent]} --> {child}")
        lines += [f"    {ids[dependency]} -.-> {child}"
                  for dependency in resource["dependencies"] if dependency != parent]
    return "\n".join(lines) + "\n"
