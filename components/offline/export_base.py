"""`tailscale-cluster-access export-base`: the live tailnet policy minus this stack's entries.

The drift check fails a preview when the live policy has entries `policy.base` lacks. Copying
the whole live policy into `policy.base` would also copy the entries the stack itself wrote;
in the base they are no longer the stack's, so removing an access rule later would leave its
grant written. This command writes the live policy without the entries the stack's ownership
marker lists (the marker lines themselves dropped), ready to review and commit as
`policy.base`.

    tailscale-cluster-access export-base --stack acme/tailscale-cluster-access/prod \\
        --live live-policy.hujson --out policy/base.hujson
    tailscale-cluster-access export-base --stack acme/tailscale-cluster-access/prod \\
        --fetch --out policy/base.hujson    # TAILSCALE_API_KEY or an OAuth client

Exit codes: 0 written, 2 invalid input, 1 Tailscale could not be asked.
"""

import argparse
import os
from pathlib import Path
from typing import Any

from ..core.policy import hujson
from ..core.policy.ownership import UNNAMED, WRITER, records, strip_marker, without_owned
from ..core.safe_read import POLICY_MAX_BYTES, FileProblem, read_text
from .project import InputError

EXIT_OK = 0
EXIT_ERROR = 1


def _live_text(args: argparse.Namespace, console: Any) -> tuple[str, str] | None:
    """The live policy's text and where it came from; None when Tailscale failed (said)."""
    if args.live:
        try:
            return read_text(args.live, what="policy file", max_bytes=POLICY_MAX_BYTES), args.live
        except FileProblem as problem:
            raise InputError(f"--live {args.live}: file not found." if problem.kind == "missing"
                             else f"--live {problem}") from None
    from ..core.tailscale_api import ApiError, fetch_policy, settings_from

    settings, reason = settings_from(os.environ, {})
    if settings is None:
        raise InputError(f"--fetch: {reason}.")
    try:
        live = fetch_policy(settings)
    except ApiError as error:
        console.err(f"error: {error}")
        return None
    return live.hujson, f"tailnet {settings.tailnet!r}"


def export_base(args: argparse.Namespace, console: Any) -> int:
    writer = args.stack
    if not WRITER.match(writer):
        raise InputError(f"--stack {writer!r}: name the stack in full, "
                         "`<organization>/<project>/<stack>`, as its ownership marker does "
                         "(e.g. acme/tailscale-cluster-access/prod).")
    found = _live_text(args, console)
    if found is None:
        return EXIT_ERROR
    text, source = found
    try:
        document = hujson.parse(text, source)
    except hujson.HujsonError as error:
        raise InputError(f"The live policy is not valid HuJSON: {error}") from None
    marked = records(text)
    # Lines naming no writer predate writers on the marker: only the stack itself wrote them
    # while one stack wrote the tailnet's policy.
    owned = marked.get(writer, set()) | marked.get(UNNAMED, set())
    kept = without_owned(document.data, owned)
    removed = len(owned & _digests(document.data))
    header = [f"// policy.base for {writer}: the live policy ({source}) without the "
              f"{removed} entr{'y' if removed == 1 else 'ies'} this stack wrote."]
    exported = "\n".join(header) + "\n" + strip_marker(
        hujson.PolicyDocument(kept, {key: lines for key, lines in document.comments.items()
                                     if key in kept}, document.header, document.trailer)
        .dumps())
    if args.out:
        from .cli import write_policy_file

        write_policy_file(Path(args.out), exported)
    else:
        console.stdout.write(exported)
    console.err(f"Left out {removed} entr{'y' if removed == 1 else 'ies'} {writer} wrote "
                "(its ownership marker lists them); every other entry is kept. Comments "
                "inside sections are not kept: review the result before committing it as "
                "policy.base." + (f" -> {args.out}" if args.out else ""))
    return EXIT_OK


def _digests(policy: dict[str, Any]) -> set[str]:
    from ..core.policy.drift import policy_items
    from ..core.policy.ownership import digest

    return {digest(item) for item in policy_items(policy)}


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    command = commands.add_parser(
        "export-base",
        parents=[common],
        help="write the live tailnet policy minus this stack's entries, as policy.base",
        description="The remedy for drift: the live policy without the entries the stack's "
        "ownership marker lists, so the stack's own rules stay the stack's (removing one "
        "still revokes it).",
    )
    command.add_argument("--stack", required=True, metavar="ORG/PROJECT/STACK",
                         help="the stack whose entries to leave out, named in full")
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--live", metavar="FILE",
                        help="the live policy, saved from the admin console or the API")
    source.add_argument("--fetch", action="store_true",
                        help="read the live policy from Tailscale (TAILSCALE_API_KEY, or "
                        "TAILSCALE_OAUTH_CLIENT_ID and TAILSCALE_OAUTH_CLIENT_SECRET; "
                        "TAILSCALE_TAILNET)")
    command.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    command.set_defaults(handler=export_base)
