"""The plan summary's Lockdown section, from the `lockdown` stack output."""

from collections.abc import Mapping
from typing import Any, Final

from . import markdown

LOCKDOWN_OUTPUT: Final = "lockdown"


def lockdown_cell(value: Mapping[str, Any]) -> str:
    """The outputs table's cell: the verdict; the section below has the rest."""
    return "ready" if value.get("ready") is True else "not ready (see Lockdown)"


def lockdown_section(value: Any) -> list[str]:
    """`### Lockdown`: whether the public endpoint can be closed, why not, and how per cloud."""
    if not isinstance(value, Mapping):
        return []
    ready = value.get("ready") is True
    out = ["", "### Lockdown", ""]
    if ready:
        out += ["Ready: a deployer path and a break-glass path exist and some identity gets "
                "in while the recorder is down. Close the public endpoint (docs/lockdown.md):",
                ""]
    else:
        out += ["Not ready to close the public API server endpoint:", ""]
        out += [f"- {markdown.text(reason)}" for reason in value.get("notReadyBecause", ())]
        out += ["", "When it is, the settings are (docs/lockdown.md):", ""]
    settings = value.get("settings", {})
    doors = value.get("sideDoors", {})
    reopen = value.get("reopen", {})
    out += ["| Cloud | Resource | Set | Side doors to audit | Reopen from the cloud API |",
            "|---|---|---|---|---|"]
    for cloud in sorted(settings):
        entry = settings[cloud]
        assignments = ", ".join(f"{key}={str(val).lower() if isinstance(val, bool) else val}"
                                for key, val in sorted(entry.get("set", {}).items()))
        out.append("| " + " | ".join([
            cloud.upper(), markdown.code(entry.get("resource", ""), in_table=True),
            markdown.code(assignments, in_table=True),
            markdown.cell("; ".join(doors.get(cloud, ()))),
            markdown.code(reopen.get(cloud, ""), in_table=True)]) + " |")
    return out
