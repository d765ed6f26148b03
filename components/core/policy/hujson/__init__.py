"""HuJSON reading and canonical writing for Tailscale tailnet policy files.

HuJSON is JSON plus ``//`` and ``/* */`` comments and trailing commas.  The
parser is strict everywhere else (duplicate keys, NaN, leading zeros and bad
escapes are errors) because Tailscale rejects such files, and it is better to
fail at ``pulumi preview`` than at the Tailscale API.

Comments are kept only around the top-level members (see `PolicyDocument`);
comments inside nested values are dropped.  In a comment list, ``""`` stands
for a blank line that separated two comments, so groups of comments such as
the commented-out sections of Tailscale's default policy keep their shape.
"""

from .document import HujsonError, PolicyDocument
from .parser import parse
from .writer import CANONICAL_KEY_ORDER, dumps

__all__ = [
    "CANONICAL_KEY_ORDER",
    "HujsonError",
    "PolicyDocument",
    "dumps",
    "parse",
]
