"""HuJSON reading and canonical writing for Tailscale tailnet policy files.

HuJSON is JSON plus ``//`` and ``/* */`` comments and trailing commas.  The
parser is strict everywhere else (duplicate keys, NaN, leading zeros and bad
escapes are errors) because Tailscale rejects such files, and it is better to
fail at ``pulumi preview`` than at the Tailscale API.

`PolicyDocument` keeps the comments around the top-level members only (comments
inside nested values are dropped by `dumps`); `syntax.scan` records where every value
is in the text, so that a writer can keep the whole text (see `policy.formatted`,
the format-preserving merge).  In a comment list, ``""`` stands
for a blank line that separated two comments, so groups of comments such as
the commented-out sections of Tailscale's default policy keep their shape.
"""

from .document import HujsonError, PolicyDocument
from .parser import parse, parse_data
from .writer import CANONICAL_KEY_ORDER, dumps

__all__ = [
    "CANONICAL_KEY_ORDER",
    "HujsonError",
    "PolicyDocument",
    "dumps",
    "parse",
    "parse_data",
]
