"""The plan summary's Lockdown section and cells, from the `lockdown` and `deployKubeconfig`
stack outputs."""

from collections.abc import Mapping
from typing import Any, Final

import yaml

from . import markdown

LOCKDOWN_OUTPUT: Final = "lockdown"
KUBECONFIG_OUTPUT: Final = "deployKubeconfig"


def kubeconfig_cell(value: str) -> str:
    """The kubeconfig is in no plan file: name its server and how to get it."""
    try:
        server = yaml.safe_load(value)["clusters"][0]["cluster"]["server"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        server = "?"
    return (f"kubeconfig for {markdown.code(server, in_table=True)} "
            f"(`pulumi stack output {KUBECONFIG_OUTPUT}`)")


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
