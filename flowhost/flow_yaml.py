"""Flow files as round-trip YAML: read with positions, written back keeping the user's comments, key order and
indentation, ``!secret`` / ``!env_var`` references kept as references; and the JSON form the REST API uses.

``flowfile`` validates what this reads.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import CollectionNode, MappingNode, Node, SequenceNode
from ruamel.yaml.representer import RoundTripRepresenter

from .secrets.references import EnvRef, Secret, SecretRef

PathItem = str | int


@dataclass(frozen=True)
class FlowError:
    path: tuple[PathItem, ...]
    message: str
    source: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        location = ""
        if self.source:
            location = f"{self.source}:{self.line}:{self.column}: " if self.line else f"{self.source}: "
        path = self.dotted_path
        return f"{location}{path}: {self.message}" if path else f"{location}{self.message}"

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"path": self.dotted_path, "message": self.message}
        if self.line:
            result["line"], result["column"] = self.line, self.column
        return result


class FlowValidationError(Exception):
    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


def format_path(path: Sequence[PathItem]) -> str:
    text = ""
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
        else:
            text += f".{item}" if text else str(item)
    return text


class _FlowRepresenter(RoundTripRepresenter):
    """Writes references back as they were read: ``!secret NAME`` (never a value) and ``!env_var NAME``."""


def _represent_secret_ref(representer: RoundTripRepresenter, ref: SecretRef | Secret) -> Any:
    return representer.represent_scalar("!secret", ref.name)


def _represent_env_ref(representer: RoundTripRepresenter, ref: EnvRef) -> Any:
    text = f"{ref.name} {ref.default}" if ref.default is not None else ref.name
    return representer.represent_scalar("!env_var", text)


_FlowRepresenter.add_representer(SecretRef, _represent_secret_ref)
_FlowRepresenter.add_representer(Secret, _represent_secret_ref)
_FlowRepresenter.add_representer(EnvRef, _represent_env_ref)


MAX_YAML_BYTES = 1024 * 1024
"""The longest flow file or YAML body read: the round-trip parser is pure Python (about 15 s per MiB here)."""
MAX_ALIAS_NODES = 10_000
"""How many nodes aliases (``*name``, merge keys ``<<: *name``) may add to a document in all."""
MAX_YAML_DEPTH = 100


class _BoundedComposer(Composer):
    """Refuses what would make a small text a huge document: aliases that expand past MAX_ALIAS_NODES nodes
    (nine levels of nine aliases make 9**9 from 570 bytes), recursive aliases and deep nesting; each error
    carries the position of the alias or node where the budget ran out."""

    def compose_document(self) -> Any:
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            self._count_alias(event)
        elif self.depth >= MAX_YAML_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
        return super().compose_node(parent, index)

    def _count_alias(self, event: AliasEvent) -> None:
        node = self.anchors.get(event.anchor)
        if node is None:
            return  # the composer reports the undefined alias
        if isinstance(node, CollectionNode) and node.end_mark is None:
            raise ComposerError(
                None, None, f"alias *{event.anchor} is inside its own anchor (a recursive structure)", event.start_mark
            )
        self._alias_nodes += self._expanded_size(node)
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise ComposerError(
                None,
                None,
                f"aliases expand to more than {MAX_ALIAS_NODES} nodes (at alias *{event.anchor}); "
                "write the values out or use fewer aliases",
                event.start_mark,
            )

    def _expanded_size(self, node: Node) -> int:
        """Nodes in ``node`` with every alias inside it written out; memoized, so shared anchors cost once."""
        size = self._sizes.get(id(node))
        if size is None:
            if isinstance(node, SequenceNode):
                size = 1 + sum(self._expanded_size(item) for item in node.value)
            elif isinstance(node, MappingNode):
                size = 1 + sum(self._expanded_size(key) + self._expanded_size(value) for key, value in node.value)
            else:
                size = 1
            self._sizes[id(node)] = size
        return size


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps positions (and comments, for writing back)
    yaml.Composer = _BoundedComposer
    yaml.Representer = _FlowRepresenter
    yaml.width = 4096  # never fold a user's long line
    yaml.constructor.add_constructor("!secret", lambda loader, node: SecretRef(loader.construct_scalar(node)))
    yaml.constructor.add_constructor("!env_var", lambda loader, node: EnvRef.parse(loader.construct_scalar(node)))
    return yaml


def read_yaml(text: str, source: str) -> Any:
    if len(text) > MAX_YAML_BYTES // 4 and len(text.encode()) > MAX_YAML_BYTES:
        message = f"the YAML text is longer than {MAX_YAML_BYTES // 1024} KiB; split the flow into several files"
        raise FlowValidationError([FlowError((), message, source)])
    try:
        return _yaml().load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc).splitlines()[0]
        if exc.context and "duplicate key" in (exc.problem or ""):
            problem = exc.problem
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise FlowValidationError([FlowError((), f"invalid YAML: {problem}", source, line, column)]) from None
    except YAMLError as exc:  # e.g. a control character: the reader's errors carry no mark
        raise FlowValidationError([FlowError((), f"invalid YAML: {exc}", source)]) from None
    except (TypeError, ValueError) as exc:  # ruamel's constructors raise these, unmarked, for a few values
        raise FlowValidationError([FlowError((), f"invalid YAML: {_unreadable(exc)}", source)]) from None


def _unreadable(exc: Exception) -> str:
    if "unhashable" in str(exc):  # ``? [[a]]: 1``: a key holding a list or mapping
        return f"a mapping key holds a list or mapping inside it ({exc}); write keys as plain text"
    return f"a value cannot be read ({exc})"  # ``!!int abc``


YamlStyle = tuple[int, int, int]
"""Indentation: (mapping, sequence, offset of the dash), as ``YAML.indent`` takes them."""
DEFAULT_STYLE: YamlStyle = (2, 4, 2)
_STYLES: tuple[YamlStyle, ...] = (DEFAULT_STYLE, (2, 2, 0), (4, 4, 2), (4, 4, 0), (4, 6, 4), (2, 3, 1))


def dump_yaml(document: Any, style: YamlStyle = DEFAULT_STYLE) -> str:
    """YAML text of a (round-trip) document; references stay references."""
    yaml = _yaml()
    mapping, sequence, offset = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def guess_style(text: str, document: Any) -> YamlStyle:
    """The indentation that writes ``document`` back as ``text``, so that saving changes only what changed."""
    for style in _STYLES:
        if dump_yaml(document, style) == text:
            return style
    return DEFAULT_STYLE


def update_document(old: Any, new: Any, peers: Sequence[Any] = ()) -> Any:
    """Make the round-trip document ``old`` equal to the plain document ``new``, in place where possible, so
    that the user's comments, key order and formatting survive. Returns the updated document.

    What is new is written in the style of what plays the same part beside it (``peers``: the other items of a
    list, the same key in them): a node added to a list whose nodes write ``config: {...}`` on one line gets its
    ``config`` on one line, a layout entry added to ``{x: 120, y: 80}`` entries is written so too.
    """
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        return _update_mapping(old, new, peers)
    if isinstance(old, CommentedSeq) and isinstance(new, list | tuple):
        return _update_list(old, new)
    if _same_scalar(old, new):
        return old  # keeps YAML's formatting of the value (quotes, 80.0 vs 80, hex...)
    return new


def _update_mapping(old: CommentedMap, new: Mapping[str, Any], peers: Sequence[Any]) -> CommentedMap:
    for key in [key for key in old if key not in new]:
        del old[key]
    for key, value in new.items():
        same_key = [peer[key] for peer in peers if isinstance(peer, Mapping) and key in peer]
        if key in old:
            old[key] = update_document(old[key], value, same_key)
        else:
            old[key] = _styled_like(value, same_key or [other for other in old.values() if other is not None])
    return old


def _update_list(old: CommentedSeq, new: Sequence[Any]) -> CommentedSeq:
    """Items with an ``id`` are matched by it (a node moved in the list keeps its comments); others by index."""
    by_id = {item["id"]: item for item in old if isinstance(item, CommentedMap) and isinstance(item.get("id"), str)}
    siblings = [item for item in old if isinstance(item, CommentedMap | CommentedSeq)]
    items = []
    for index, value in enumerate(new):
        previous = by_id.get(value.get("id")) if isinstance(value, Mapping) else None
        if previous is None and index < len(old) and not by_id:
            previous = old[index]
        others = [item for item in siblings if item is not previous]
        items.append(
            update_document(previous, value, others) if previous is not None else _styled_like(value, siblings)
        )
    for index, item in enumerate(items):
        if index >= len(old):
            old.append(item)
        elif old[index] is not item:
            old[index] = item
    del old[len(items) :]
    return old


def _styled_like(value: Any, siblings: Sequence[Any]) -> Any:
    """``value`` (plain) as round-trip YAML written like its ``siblings`` (flow style when all of them use it)."""
    if isinstance(value, Mapping) and not isinstance(value, CommentedMap):
        maps = [sibling for sibling in siblings if isinstance(sibling, CommentedMap)]
        styled: CommentedMap | CommentedSeq = CommentedMap(
            (key, _styled_like(item, [m[key] for m in maps if key in m])) for key, item in value.items()
        )
        return _in_flow_style_like(styled, maps, value)
    if isinstance(value, list) and not isinstance(value, CommentedSeq):
        seqs = [sibling for sibling in siblings if isinstance(sibling, CommentedSeq)]
        children = [child for seq in seqs for child in seq]
        return _in_flow_style_like(CommentedSeq(_styled_like(item, children) for item in value), seqs, value)
    return value


def _in_flow_style_like(styled: Any, siblings: Sequence[Any], value: Any) -> Any:
    """``styled`` on one line when every one of its ``siblings`` is, unless it holds multi-line text."""
    if siblings and all(sibling.fa.flow_style() for sibling in siblings) and not _has_multiline_text(value):
        styled.fa.set_flow_style()
    return styled


def _has_multiline_text(value: Any) -> bool:
    """A PEM certificate and the like: unreadable on one line, so never written in flow style."""
    if isinstance(value, str):
        return "\n" in value
    if isinstance(value, Mapping):
        return any(_has_multiline_text(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_multiline_text(item) for item in value)
    return False


_OPTIONAL_SECTIONS = {"nodes": ("config", "wires"), "connections": ("configuration",)}
"""Sections of a node or connection that an empty value and no value at all mean the same."""


def without_empty_sections(document: Mapping[str, Any], old: Any = None) -> dict[str, Any]:
    """``document`` (plain) without what the editor sends for every flow and node although the user's file
    (``old``) did not write it: an empty ``config``, ``wires``, ``configuration``, ``connections`` or ``layout``,
    and a ``label`` that is only the id (what a flow without a label shows)."""
    document = dict(document)
    written_top = old if isinstance(old, Mapping) else {}
    for key in ("connections", "layout"):
        if key in document and document[key] in ([], {}, None) and key not in written_top:
            del document[key]
    if "label" not in written_top and document.get("label") == document.get("id"):
        document.pop("label", None)  # the label a flow without one shows
    for list_key, sections in _OPTIONAL_SECTIONS.items():
        items = document.get(list_key)
        if isinstance(items, list):
            document[list_key] = _without_empty_item_sections(items, written_top.get(list_key), sections)
    return document


def _without_empty_item_sections(items: list, old_items: Any, sections: tuple[str, ...]) -> list:
    """The nodes (or connections) without the empty ``sections`` that their entries in ``old_items`` lack."""
    written = {
        item["id"]: item for item in old_items or () if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    }
    trimmed = []
    for item in items:
        if isinstance(item, Mapping):
            before = written.get(item.get("id"), {})
            item = {k: v for k, v in item.items() if not (k in sections and v in ({}, None) and k not in before)}
        trimmed.append(item)
    return trimmed


def new_document(document: Mapping[str, Any], source: str) -> Any:
    """A new flow's round-trip document: editor positions and wires on one line each (``{x: 120, y: 80}``,
    ``{out: [console]}``), as the README writes them; configurations, which can hold certificates, in blocks."""
    root = read_yaml(dump_yaml(without_empty_sections(document)), source)
    layout = root.get("layout")
    for entry in layout.values() if isinstance(layout, CommentedMap) else ():
        if isinstance(entry, CommentedMap):
            entry.fa.set_flow_style()
    for node in root.get("nodes") or ():
        if isinstance(node, CommentedMap) and isinstance(node.get("wires"), CommentedMap):
            node["wires"].fa.set_flow_style()
    return root


def _same_scalar(old: Any, new: Any) -> bool:
    if type(new) not in (str, int, float, bool) or old != new:
        return False
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new)
    return isinstance(old, type(new)) and not isinstance(old, Secret | bool)


def to_json_document(value: Any) -> Any:
    """A flow (or part of one) as plain JSON: ``!secret NAME`` -> ``{"$secret": NAME}``, ``!env_var NAME
    default`` -> ``{"$env": NAME, "default": default}``; YAML's scalar types -> plain ones."""
    if isinstance(value, SecretRef | Secret):
        return {"$secret": value.name}
    if isinstance(value, EnvRef):
        return {"$env": value.name} if value.default is None else {"$env": value.name, "default": value.default}
    if isinstance(value, Mapping):
        return {str(key): to_json_document(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_document(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    for plain in (int, float, str):
        if isinstance(value, plain):
            return plain(value)
    return str(value)


def from_json_document(value: Any) -> Any:
    """The inverse of :func:`to_json_document`: reference objects become ``SecretRef`` / ``EnvRef``."""
    if isinstance(value, Mapping):
        if set(value) == {"$secret"} and isinstance(value["$secret"], str):
            return SecretRef(value["$secret"])
        if "$env" in value and set(value) <= {"$env", "default"} and isinstance(value["$env"], str):
            default = value.get("default")
            return EnvRef(value["$env"], None if default is None else str(default))
        return {key: from_json_document(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json_document(item) for item in value]
    return value


def position(root: Any, path: Sequence[PathItem], *, of_key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of the value at ``path`` (or of its key) in a round-trip-loaded document."""
    node, found = root, None
    for depth, item in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, CommentedMap) and item in node:
            found = node.lc.key(item) if (last and of_key) else node.lc.value(item)
            node = node[item]
        elif isinstance(node, CommentedSeq) and isinstance(item, int) and 0 <= item < len(node):
            found = node.lc.item(item)
            node = node[item]
        else:
            break
    if found is None:
        return None
    return found[0] + 1, found[1] + 1
