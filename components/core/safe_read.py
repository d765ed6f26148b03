"""One careful reader for every file the tool opens, and a YAML loader that cannot be abused.

`read_text` opens regular files only (never a FIFO, device, folder or symlink loop, so it
cannot block or read forever), reads at most a size limit and insists on UTF-8 without NUL
bytes. `load_yaml` refuses duplicate keys, non-string keys, alias bombs, deep nesting and
huge integers, and returns plain `dict`/`list`/`str`/`int`/`float`/`bool`/`None`.
Every problem is a `FileProblem` whose message names the file (and the line, where known)
and never echoes file content, which may hold a plaintext secret.

Pure: no Pulumi import, so the CLI's fast paths and the validation may use it.
"""

import errno
import json
import os
import stat
from collections.abc import Callable, Iterator
from typing import Any, Literal, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "CONFIG_MAX_BYTES",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "PLAN_MAX_BYTES",
    "POLICY_MAX_BYTES",
    "FileProblem",
    "check_depth",
    "load_json",
    "load_yaml",
    "load_yaml_documents",
    "read_text",
    "read_yaml",
]

CONFIG_MAX_BYTES = 1024 * 1024
"""Default size limit of `read_text`: Pulumi.yaml, stack files, `--config` files."""
POLICY_MAX_BYTES = 4 * 1024 * 1024
"""Size limit for tailnet policy files (base policies, merge fragments)."""
PLAN_MAX_BYTES = 64 * 1024 * 1024
"""Size limit for each file of a plan folder read back (`diff`, `--compare`)."""
MAX_DEPTH = 100
"""Deepest nesting of mappings/lists `load_yaml` and `check_depth` accept by default."""
MAX_ALIASES = 100
"""Most `*alias` references one YAML document may use."""
MAX_NODES = 1_000_000
"""Most values a YAML document may hold once its aliases are expanded."""
MAX_INT_DIGITS = 100
"""Longest integer (in digits) `load_yaml` accepts."""

ProblemKind = Literal["missing", "not-a-file", "too-large", "unreadable", "encoding", "content"]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_PLAIN_TAGS = frozenset({
    _STR, _INT, _MERGE, _TIMESTAMP, "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
})


class FileProblem(Exception):
    """A file that cannot be used as input; `str()` is the whole message, file named first.

    `kind` lets callers word the common cases their own way: "missing" (no such file),
    "not-a-file" (folder, FIFO, device, socket), "too-large", "unreadable" (permissions,
    symlink loop, other OS errors), "encoding" (not UTF-8, NUL byte) and "content" (the
    text does not parse or breaks a limit).
    """

    def __init__(self, path: str | os.PathLike[str], kind: ProblemKind, reason: str) -> None:
        self.path = os.fspath(path)
        self.kind: ProblemKind = kind
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# -- reading -----------------------------------------------------------------------------


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _os_problem(path: str, what: str, error: OSError) -> FileProblem:
    if isinstance(error, FileNotFoundError):
        return FileProblem(path, "missing", f"{what} not found.")
    if error.errno == errno.ELOOP:
        return FileProblem(path, "unreadable", f"cannot read the {what}: a symlink loop.")
    reason = error.strerror or type(error).__name__
    return FileProblem(path, "unreadable", f"cannot read the {what}: {reason}.")


def _line_of(data: bytes | str, offset: int) -> int:
    if isinstance(data, bytes):
        return data.count(b"\n", 0, offset) + 1
    return data.count("\n", 0, offset) + 1


def read_text(
    path: str | os.PathLike[str], *, what: str, max_bytes: int = CONFIG_MAX_BYTES
) -> str:
    """The UTF-8 text of the regular file `path`, with newlines as `Path.read_text` gives them.

    `what` names the file in messages ("stack config file", "base policy"). Refuses, with
    a `FileProblem`: a missing file, anything but a regular file (checked before opening,
    and again on the open descriptor, which is opened non-blocking so a FIFO swapped in
    cannot block), a symlink loop, more than `max_bytes` bytes (at most `max_bytes + 1`
    are read), text that is not UTF-8, and NUL bytes.
    """
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except OSError as error:
        raise _os_problem(name, what, error) from None
    except ValueError:  # a NUL byte in the path itself
        raise FileProblem(name, "unreadable", f"cannot read the {what}: bad file name.") from None
    problem = _not_regular(info.st_mode)
    if problem is not None:
        raise FileProblem(name, "not-a-file", f"the {what} {problem}.")
    if info.st_size > max_bytes:
        raise _too_large(name, what, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags)
    except OSError as error:
        raise _os_problem(name, what, error) from None
    try:
        problem = _not_regular(os.fstat(fd).st_mode)
        if problem is not None:
            raise FileProblem(name, "not-a-file", f"the {what} {problem}.")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise _os_problem(name, what, error) from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise _too_large(name, what, max_bytes)
    data = b"".join(chunks)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileProblem(
            name, "encoding",
            f"the {what} is not UTF-8 text (line {_line_of(data, error.start)}, "
            f"byte {error.start + 1}).",
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise FileProblem(
            name, "encoding", f"the {what} holds a NUL byte (line {_line_of(text, nul)})."
        )
    # What text mode (`Path.read_text`) does: universal newlines.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _too_large(name: str, what: str, max_bytes: int) -> FileProblem:
    return FileProblem(
        name, "too-large", f"the {what} is larger than {_size(max_bytes)}, the most accepted."
    )


def _size(count: int) -> str:
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


# -- YAML --------------------------------------------------------------------------------


def _path_text(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the top level"


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _base_loader() -> Any:
    # libyaml's parser when PyYAML was built with it; construction stays in Python either
    # way, so the checks below hold for both.
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Refused(Exception):
    def __init__(self, node: Node | None, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.reason = reason


class StrictConstruction:
    """Mixed into a SafeLoader: builds plain values only.

    Before anything is constructed the node graph is checked: duplicate keys, keys that are
    not strings (dates, numbers, null, lists), integers longer than `MAX_INT_DIGITS`,
    tags other than YAML's core ones, and more than `MAX_NODES` values after alias
    expansion. Nesting and alias counts are checked earlier, on the event stream
    (`load_yaml`), so composing never recurses deeply. Dates stay the text written.
    """

    yaml_constructors: dict[Any, Any]

    def construct_document(self, node: Node) -> Any:
        _check_graph(node)
        return super().construct_document(node)  # type: ignore[misc]

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:
        # A date is handed over as it is written, as Pulumi hands config to programs.
        return str(node.value)


def strict_loader(base: type[Any]) -> type[Any]:
    """`base` (a SafeLoader) with `StrictConstruction`; works for libyaml's CSafeLoader too."""
    loader: type[Any] = type(f"Strict{base.__name__}", (StrictConstruction, base), {})
    loader.add_constructor(_TIMESTAMP, StrictConstruction.construct_yaml_timestamp)
    return loader


StrictLoader = strict_loader(_base_loader())
"""The loader `load_yaml` uses: libyaml's safe loader when available, with the checks."""


def _check_graph(root: Node) -> None:
    sizes: dict[int, int] = {}

    def walk(node: Node, path: tuple[str | int, ...]) -> int:
        known = sizes.get(id(node))
        if known is not None:  # an alias of a node already checked
            return known
        if node.tag not in _PLAIN_TAGS:
            raise _Refused(node, f"{_path_text(path)}: the tag {node.tag!r} is not supported")
        total = 1
        if isinstance(node, ScalarNode):
            if node.tag == _INT:
                digits = len(str(node.value).lstrip("+-").replace("_", ""))
                if digits > MAX_INT_DIGITS:
                    raise _Refused(
                        node, f"{_path_text(path)}: an integer with {digits} digits "
                        f"(at most {MAX_INT_DIGITS})")
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                total += walk(item, (*path, index))
                if total > MAX_NODES:
                    break
        elif isinstance(node, MappingNode):
            seen: dict[str, Node] = {}
            for key, value in node.value:
                if key.tag == _MERGE:
                    total += walk(value, (*path, "<<"))
                    continue
                if not isinstance(key, ScalarNode):
                    raise _Refused(
                        key, f"{_path_text(path)}: a key is {_tag_name(key)}, not a string")
                if key.tag != _STR:
                    raise _Refused(
                        key, f"{_path_text(path)}: the key {key.value!r} is not a string "
                        f"(YAML reads it as {_tag_name(key)}); quote it")
                name = str(key.value)
                first = seen.get(name)
                if first is not None:
                    raise _Refused(
                        key, f"{_path_text((*path, name))}: duplicate key (first at "
                        f"{_where(first)}; the last would silently win); keep one")
                seen[name] = key
                total += walk(value, (*path, name))
                if total > MAX_NODES:
                    break
        if total > MAX_NODES:
            raise _Refused(
                None, f"more than {MAX_NODES:,} values once aliases are expanded "
                "(an alias bomb?)")
        sizes[id(node)] = total
        return total

    walk(root, ())


def _tag_name(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    return {
        _INT: "an integer", "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "a boolean", "tag:yaml.org,2002:null": "null",
        _TIMESTAMP: "a date",
    }.get(node.tag, f"{node.tag!r}")


def _check_events(events: Iterator[yaml.Event]) -> None:
    """Nesting depth, alias count and recursive aliases, from the (non-recursive) parser."""
    depth = 0
    aliases = 0
    open_anchors: list[str | None] = []
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _EventRefused(event, f"values are nested more than {MAX_DEPTH} levels deep")
            open_anchors.append(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            open_anchors.pop()
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _EventRefused(event, f"more than {MAX_ALIASES} aliases (*name)")
            if event.anchor in open_anchors:
                raise _EventRefused(event, f"the alias *{event.anchor} refers to a value "
                                           "that contains it")


class _EventRefused(Exception):
    def __init__(self, event: yaml.Event, reason: str) -> None:
        super().__init__(reason)
        self.line = event.start_mark.line + 1 if event.start_mark is not None else None
        self.reason = reason


def _yaml_problem(error: yaml.YAMLError) -> str:
    # Never echo the offending line: it may hold a plaintext secret.
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or type(error).__name__
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def load_yaml(text: str, *, source: str) -> Any:
    """The single YAML document in `text` as plain values; `FileProblem` naming `source`.

    Refused: invalid YAML, several documents, nesting deeper than `MAX_DEPTH`, more than
    `MAX_ALIASES` aliases or `MAX_NODES` values after expansion, recursive aliases,
    duplicate keys (both lines named), keys that are not strings, integers longer than
    `MAX_INT_DIGITS` digits and non-core tags (`!!binary`, `!!set`, `!custom`...).
    Dates come back as the text written. An empty document is `None`.
    """
    return _load_yaml(text, source, lambda: yaml.load(text, Loader=StrictLoader))


def load_yaml_documents(text: str, *, source: str) -> list[Any]:
    """Every document of the YAML stream `text`, refused as `load_yaml` refuses one (the
    alias limit counts over the whole stream)."""
    return cast(list[Any], _load_yaml(
        text, source, lambda: list(yaml.load_all(text, Loader=StrictLoader))))


def _load_yaml(text: str, source: str, load: Callable[[], Any]) -> Any:
    loader = _base_loader()
    try:
        _check_events(yaml.parse(text, Loader=loader))
        return load()
    except _EventRefused as refused:
        where = f"line {refused.line}: " if refused.line is not None else ""
        raise FileProblem(source, "content", f"{where}{refused.reason}.") from None
    except _Refused as refused:
        where = f"{_where(refused.node)}: " if refused.node is not None else ""
        raise FileProblem(source, "content", f"{where}{refused.reason}.") from None
    except yaml.YAMLError as error:
        raise FileProblem(source, "content", f"not valid YAML: {_yaml_problem(error)}") from None
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as error:
        # Anything the constructors still trip over; the message holds no file content.
        raise FileProblem(
            source, "content", f"not valid YAML: {type(error).__name__}"
        ) from None


def load_json(text: str, *, source: str) -> Any:
    """The JSON value in `text`; `FileProblem` naming `source` when it is not valid JSON or
    nests deeper than `MAX_DEPTH` (never a RecursionError, however deep)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise FileProblem(source, "content",
                          f"values are nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError as error:
        raise FileProblem(source, "content", f"not valid JSON: {error}") from None
    check_depth(value, source=source)
    return value


def read_yaml(
    path: str | os.PathLike[str], *, what: str, max_bytes: int = CONFIG_MAX_BYTES
) -> Any:
    """`load_yaml(read_text(path, ...))`: a YAML file read safely."""
    return load_yaml(read_text(path, what=what, max_bytes=max_bytes), source=os.fspath(path))


# -- parsed values ---------------------------------------------------------------------


def check_depth(value: Any, limit: int = MAX_DEPTH, *, source: str = "<value>") -> None:
    """`FileProblem` naming `source` and the path if `value` nests dicts/lists deeper than `limit`.

    For values from JSON/HuJSON parsers (or built in code). Iterative, so arbitrarily deep
    values are safe to check; a value that contains itself counts as too deep.
    """
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list | tuple):
            depth += 1
            if depth > limit:
                raise FileProblem(
                    source, "content",
                    f"{_path_text(path)}: values are nested more than {limit} levels deep.",
                )
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, depth, (*path, key if isinstance(key, int) else str(key)))
                         for key, child in pairs)

