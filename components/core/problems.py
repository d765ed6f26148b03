"""Validation problems, collected and reported together."""

from dataclasses import dataclass

from .visible import visible


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where, what, and how to fix it."""

    key: str
    message: str
    fix: str = ""
    as_given: bool = False
    """The key's last part is spelled as the input spelled it (an unknown key)."""

    def render(self, prefix: str = "") -> str:
        """One line of an error; names from the input show lookalike and invisible
        characters as such (`visible`)."""
        where = f"{prefix}{self.key}" if self.key else prefix.rstrip(":.") or "(input)"
        text = f"{visible(where)}: {visible(self.message)}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class InvalidConfig(ValueError):
    """Raised before any resource is registered; lists every problem at once."""

    def __init__(
        self, problems: list[Problem], *, prefix: str = "", subject: str = "configuration"
    ):
        self.problems = list(problems)
        self.prefix = prefix
        self.subject = subject
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"Invalid {self.subject} ({count} {noun}); nothing was changed:"]
        lines += [f"  - {p.render(self.prefix)}" for p in self.problems]
        return "\n".join(lines)
