"""The flows: read from their files, shown and changed through the API, written back to YAML keeping the
user's comments, and deployed to the runtime, which restarts only what changed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..data_files import write_text_file
from ..flow_yaml import (
    DEFAULT_STYLE,
    FlowValidationError,
    YamlStyle,
    dump_yaml,
    from_json_document,
    guess_style,
    new_document,
    read_yaml,
    to_json_document,
    update_document,
    without_empty_sections,
)
from ..flowfile import FlowSpec, read_flow_file, validate_flow
from ..secrets.policy import own_flow_secrets, referenced_secrets
from ..secrets.store import StoreSecretResolver
from .errors import Conflict, Invalid, NotFound, WorkspaceError, json_object
from .state import FlowRecord, WorkspaceState, revision


class Flows:
    """Reads, shows and changes the flows; each change under the workspace's lock."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state

    # -- loading at start ------------------------------------------------------------------------------------
    def load_files(self, paths: Iterable[Path], *, demo: Path | None, include_stored: bool) -> list[str]:
        """Read and validate the flows to run (see ``Workspace.load_flow_files``); returns every error as text."""
        candidates = [(Path(path), Path(path), "command-line") for path in paths]
        if include_stored:
            candidates += [(path, path, "api") for path in self.state.store.stored_flow_files()]
        if not candidates and demo is not None:
            candidates.append((demo, None, "demo"))
        errors: list[str] = []
        defined_by: dict[str, str] = {}
        for source, target, origin in candidates:
            errors.extend(self._load_file(source, target, origin, defined_by))
        return errors

    def _load_file(self, source: Path, target: Path | None, origin: str, defined_by: dict[str, str]) -> list[str]:
        """Load one flow file; ``defined_by``: who defines each connection id among the files loaded so far."""
        try:
            root = read_flow_file(source)
            spec = validate_flow(
                root,
                self.state.registry,
                source=str(source),
                root=root,
                resolver=StoreSecretResolver(source.parent, self.state.store.secrets),
                external_connections=self.state.connections,
            )
        except FlowValidationError as exc:
            return [str(error) for error in exc.errors]
        if spec.id in self.state.flows:
            return [f"{source}: flow id '{spec.id}' is also used by {self.state.flows[spec.id].spec.source}"]
        errors = []
        for connection in spec.connections:
            other = defined_by.get(connection.id) or (
                "the API (connections.json)" if connection.id in self.state.connections else None
            )
            if other:
                errors.append(f"{source}: connection id '{connection.id}' is also defined by {other}")
            defined_by[connection.id] = f"flow {spec.id} ({source})"
        text = source.read_text(encoding="utf-8")
        record = FlowRecord(root, spec, target or self.state.store.flow_path(spec.id), origin, guess_style(text, root))
        record.rev = revision(record.text())
        record.disk_rev = revision(text) if target is not None else None
        self.state.flows[spec.id] = record
        return errors

    # -- views -------------------------------------------------------------------------------------------------
    def get(self, flow_id: str) -> FlowRecord:
        record = self.state.flows.get(flow_id)
        if record is None:
            raise NotFound.one(f"no flow '{flow_id}'")
        return record

    def summary(self, record: FlowRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "label": record.spec.label,
            "description": record.spec.description,
            "rev": record.rev,
            "file": str(record.path),
            "origin": record.origin,
            "nodes": len(record.spec.nodes),
            "deployed": record.id in self.state.runtime.flows,
        }

    def view(self, record: FlowRecord) -> dict[str, Any]:
        document = self.state.policy.mask_flow(to_json_document(record.root))
        document["rev"] = record.rev
        return document

    def yaml(self, record: FlowRecord) -> str:
        """The flow file's text, with any secret written in it as plain text masked."""
        masked = from_json_document(self.state.policy.mask_flow(to_json_document(record.root), only_values=True))
        return dump_yaml(update_document(read_yaml(record.text(), record.id), masked), record.style)

    def status(self, record: FlowRecord) -> dict[str, Any]:
        running = self.state.runtime.flows.get(record.id)
        nodes = {node_id: runner.snapshot() for node_id, runner in (running.nodes.items() if running else ())}
        return {"id": record.id, "deployed": running is not None, "nodes": nodes}

    # -- changes -----------------------------------------------------------------------------------------------
    def check(self, body: Any, flow_id: str | None = None) -> list[dict[str, Any]]:
        """Every error of a flow document (JSON form), without changing anything."""
        previous = self.state.flows.get(flow_id) if flow_id else None
        try:
            body = json_object(body)
            body.pop("rev", None)
            self._prepare(body, previous)
        except WorkspaceError as exc:
            return exc.errors
        return []

    async def create(self, body: Any, root: Any = None, style: YamlStyle = DEFAULT_STYLE) -> FlowRecord:
        """A new flow from its JSON form; ``root`` and ``style``: the YAML it was imported from."""
        async with self.state.lock:
            body = json_object(body)
            body.pop("rev", None)
            if isinstance(body.get("id"), str) and body["id"] in self.state.flows:
                raise Conflict.one(
                    f"flow '{body['id']}' already exists; change it with PUT /api/flows/{body['id']}", "id"
                )
            document, spec, pending = self._prepare(body, None)
            self.state.store.secrets.update(pending)
            if root is not None:
                root = update_document(root, without_empty_sections(document, root))
            else:
                root = new_document(document, spec.id)
            record = FlowRecord(root, spec, self.state.store.flow_path(spec.id), "api", style)
            await self._write_and_deploy(record)
            self.state.flows[spec.id] = record
            return record

    async def replace(self, flow_id: str, body: Any) -> FlowRecord:
        async with self.state.lock:
            record = self.get(flow_id)
            body = json_object(body)
            _check_rev(body.pop("rev", None), record.rev)
            body.setdefault("id", flow_id)
            if body["id"] != flow_id:
                raise Invalid.one(f"id must be '{flow_id}' (the id in the URL); create a new flow to rename", "id")
            document, spec, pending = self._prepare(body, record)
            _check_file_unchanged(record)
            # Secrets of values the change removed (a node or connection gone) go too.
            dropped = own_flow_secrets(flow_id, to_json_document(record.root)) - referenced_secrets(
                to_json_document(document)
            )
            self.state.store.secrets.update(pending, dropped)
            update_document(record.root, without_empty_sections(document, record.root))
            record.spec = spec
            await self._write_and_deploy(record)
            return record

    async def delete(self, flow_id: str) -> None:
        async with self.state.lock:
            record = self.get(flow_id)
            if record.origin == "command-line":
                raise Conflict.one(
                    f"flow '{flow_id}' comes from {record.path}, given on flowhost's command line; "
                    "remove it from the command line instead"
                )
            users = sorted(
                {
                    flow
                    for connection in record.spec.connections
                    for flow in self.state.runtime.flows_using_connection(connection.id)
                    if flow != flow_id
                }
            )
            if users:
                raise Conflict.one(f"flow '{flow_id}' defines connections that flow(s) {', '.join(users)} use")
            await self.state.runtime.remove_flow(flow_id)
            del self.state.flows[flow_id]
            if record.origin == "api":
                record.path.unlink(missing_ok=True)
                # The file that referred to them is gone. (A flow given on the command line keeps its file,
                # which may still refer to them, and cannot be deleted through the API anyway.)
                self.state.store.secrets.update({}, own_flow_secrets(flow_id, to_json_document(record.root)))

    async def _write_and_deploy(self, record: FlowRecord) -> None:
        text = record.text()
        write_text_file(record.path, text)
        if record.origin == "demo":
            record.origin = "api"  # from now on the changed copy in the data directory is the flow
        record.rev = record.disk_rev = revision(text)
        await self.state.runtime.deploy(record.spec)

    def _prepare(
        self, body: dict[str, Any], previous: FlowRecord | None
    ) -> tuple[dict[str, Any], FlowSpec, dict[str, str]]:
        """The document to write (secrets as references), its validated spec and the new secrets."""
        flow_id = body.get("id") if isinstance(body.get("id"), str) else "flow"
        protected = self.state.policy.protect_flow(body, to_json_document(previous.root) if previous else {}, flow_id)
        errors = [*protected.errors, *self._connection_id_clashes(protected.document, flow_id)]
        document = from_json_document(protected.document)
        try:
            spec = validate_flow(
                document,
                self.state.registry,
                resolver=StoreSecretResolver(
                    previous.path.parent if previous else self.state.store.flows_dir,
                    self.state.store.secrets,
                    protected.pending,
                ),
                external_connections=self.state.connections,
            )
        except FlowValidationError as exc:
            errors.extend(error.as_json() for error in exc.errors)
            spec = None
        else:  # the file it will be saved to: relative paths in node configs (codec folders) stay relative to it
            spec.source = previous.path if previous else self.state.store.flow_path(spec.id)
        if errors or spec is None:
            raise Invalid(sorted(errors, key=lambda error: error["path"]))
        return document, spec, protected.pending

    def _connection_id_clashes(self, document: dict[str, Any], flow_id: str) -> list[dict[str, Any]]:
        connections = document.get("connections")
        return [
            {"path": f"connections[{index}].id", "message": clash}
            for index, item in enumerate(connections if isinstance(connections, list) else [])
            if isinstance(item, dict) and (clash := self.state.connection_id_clash(item.get("id"), flow_id))
        ]


def _check_rev(rev: Any, current: str) -> None:
    if rev is None:
        raise Invalid.one("give the rev of the flow you changed (from GET /api/flows/{id})", "rev")
    if rev != current:
        raise Conflict.one(
            f"the flow changed since rev {rev} (now {current}); load it again and redo your change", "rev"
        )


def _check_file_unchanged(record: FlowRecord) -> None:
    if record.disk_rev is None:
        return
    try:
        text = record.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise Conflict.one(f"{record.path} cannot be read to check it before writing: {exc}") from None
    if revision(text) != record.disk_rev:
        raise Conflict.one(
            f"{record.path} changed on disk since flowhost read it; restart flowhost (or undo the edit) "
            "before saving from the editor, so that neither change is lost"
        )
