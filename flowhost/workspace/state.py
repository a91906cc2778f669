"""What the flows and the connections of a workspace share: the records, the one lock, and the connection ids.

A connection id is defined once: by an API connection (``connections.json``) or by one flow. The checks that a
new definition clashes with none live here, next to the tables they read.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..flow_yaml import DEFAULT_STYLE, YamlStyle, dump_yaml
from ..flowfile import ConnectionSpec, FlowSpec
from ..runtime import Runtime
from ..secrets.policy import SecretPolicy
from ..store import Store


@dataclass
class FlowRecord:
    root: Any
    """The round-trip YAML document: comments, key order and ``!secret`` / ``!env_var`` references."""
    spec: FlowSpec
    path: Path
    """Where the flow is written when it changes."""
    origin: str
    """``command-line`` (a FLOW_FILE argument), ``api`` (the data directory) or ``demo``."""
    style: YamlStyle = DEFAULT_STYLE
    """The file's indentation, kept when writing it back."""
    rev: str = ""
    disk_rev: str | None = None
    """The rev of the file's text as last read or written: a file changed on disk since is not overwritten."""

    def text(self) -> str:
        return dump_yaml(self.root, self.style)

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass
class ApiConnection:
    stored: dict[str, Any]
    """The document as stored: secret fields are ``{"$secret": name}``."""
    spec: ConnectionSpec


def revision(text: str) -> str:
    """A flow's revision: a hash of its file's text."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class WorkspaceState:
    runtime: Runtime
    store: Store
    flows: dict[str, FlowRecord] = field(default_factory=dict)
    connections: dict[str, ApiConnection] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Every change of flows or connections holds it, from its validation to the runtime's redeploy."""

    def __post_init__(self) -> None:
        self.policy = SecretPolicy(self.runtime.registry)

    @property
    def registry(self):
        return self.runtime.registry

    def connection_ids(self) -> list[str]:
        flow_defined = [c.id for record in self.flows.values() for c in record.spec.connections]
        return sorted({*self.connections, *flow_defined})

    def flow_connection(self, connection_id: str) -> tuple[FlowRecord, Mapping[str, Any]] | None:
        """The flow that defines ``connection_id`` and the connection's item in its document."""
        for record in self.flows.values():
            for item in record.root.get("connections") or []:
                if isinstance(item, Mapping) and item.get("id") == connection_id:
                    return record, item
        return None

    def connection_id_clash(self, connection_id: Any, flow_id: str) -> str | None:
        """What else defines the connection id that flow ``flow_id`` defines, if anything does."""
        if not isinstance(connection_id, str):
            return None
        if connection_id in self.connections:
            return f"connection id '{connection_id}' is already defined through the API"
        for record in self.flows.values():
            if record.id != flow_id and any(c.id == connection_id for c in record.spec.connections):
                return f"connection id '{connection_id}' is already defined by flow {record.id}"
        return None

    def free_connection_id(self, base: str) -> str:
        taken, candidate, number = set(self.connection_ids()), base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        return candidate
