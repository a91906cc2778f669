"""What the REST API keeps in the data directory.

```
<data-dir>/
  api-token          the API token when FLOWHOST_TOKEN is not set (generated at first start, mode 0600)
  secret.key         the Fernet key when FLOWHOST_SECRET_KEY is not set (generated, mode 0600)
  secrets.json       named secrets, each value encrypted: {"version": 1, "secrets": {name: fernet token}}
  connections.json   connections created through the API; secret fields hold {"$secret": name}, never values
  flows/<id>.yaml    flows created through the API (and the demo flow, once changed in the editor)
```

Every file is written atomically with mode 0600 (directories 0700); opening the store makes what it finds
so, as well as ``connections/<id>/``, where the connections keep their files.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from .permissions import make_private_directory, restrict_tree
from .secret_box import SecretBox, write_private_file
from .secrets import Secret, SecretNotFound, SecretRef, SecretResolver

TOKEN_ENV = "FLOWHOST_TOKEN"
TOKEN_FILE_NAME = "api-token"
SECRETS_FILE_NAME = "secrets.json"
CONNECTIONS_FILE_NAME = "connections.json"
FLOWS_DIR_NAME = "flows"
FORMAT_VERSION = 1


class StoreError(RuntimeError):
    """A file of the data directory cannot be read; the message names it."""


def api_token(data_dir: Path, environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The API token and whether it was set explicitly (``FLOWHOST_TOKEN``) rather than generated."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV], True
    path = data_dir / TOKEN_FILE_NAME
    if not path.exists():
        write_private_file(path, secrets.token_urlsafe(32).encode())
    return path.read_text(encoding="ascii").strip(), False


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StoreError(f"{path}: cannot be read: {exc}") from None


def _write_json(path: Path, document: Any) -> None:
    write_private_file(path, orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


class SecretStore:
    """Named secrets, encrypted one by one, in ``secrets.json``."""

    def __init__(self, path: Path, box: SecretBox) -> None:
        self._path = path
        self._box = box
        document = _read_json(path) or {}
        self._tokens: dict[str, str] = dict(document.get("secrets", {})) if isinstance(document, dict) else {}

    def get(self, name: str) -> Secret | None:
        token = self._tokens.get(name)
        return None if token is None else Secret(self._box.decrypt(token), name)

    def __contains__(self, name: str) -> bool:
        return name in self._tokens

    def update(self, values: Mapping[str, str], removed: set[str] = frozenset()) -> None:
        """Set and remove secrets in one write."""
        if not values and not removed & set(self._tokens):
            return
        for name in removed:
            self._tokens.pop(name, None)
        for name, value in values.items():
            self._tokens[name] = self._box.encrypt(str(value))
        _write_json(self._path, {"version": FORMAT_VERSION, "secrets": self._tokens})


class StoreSecretResolver(SecretResolver):
    """``!secret NAME``: values being saved right now, the environment, ``secrets.yaml`` beside the flow file,
    and last the encrypted secrets the API stored."""

    def __init__(
        self,
        flow_dir: Path | None,
        store: SecretStore,
        pending: Mapping[str, str] | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        super().__init__(flow_dir, environ)
        self._store = store
        self._pending = pending or {}

    def resolve(self, ref: SecretRef) -> Secret:
        if ref.name in self._pending:
            return Secret(self._pending[ref.name], ref.name)
        try:
            return super().resolve(ref)
        except SecretNotFound:
            stored = self._store.get(ref.name)
            if stored is None:
                raise
            return stored


class Store:
    """The data directory's API state: token, secrets, connections and flow files."""

    def __init__(self, data_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        make_private_directory(data_dir)
        restrict_tree(data_dir)  # a data dir made by an older flowhost, or by hand, may be open to others
        self.secrets = SecretStore(data_dir / SECRETS_FILE_NAME, SecretBox.open(data_dir, environ))
        self.flows_dir = data_dir / FLOWS_DIR_NAME

    @property
    def connections_path(self) -> Path:
        return self.data_dir / CONNECTIONS_FILE_NAME

    def load_connections(self) -> list[dict[str, Any]]:
        """The stored connection documents, secret fields as ``{"$secret": name}``."""
        document = _read_json(self.connections_path)
        if document is None:
            return []
        if not isinstance(document, dict) or not isinstance(document.get("connections"), list):
            raise StoreError(f"{self.connections_path}: expected {{'version': 1, 'connections': [...]}}")
        return document["connections"]

    def save_connections(self, connections: list[dict[str, Any]]) -> None:
        _write_json(self.connections_path, {"version": FORMAT_VERSION, "connections": connections})

    def flow_path(self, flow_id: str) -> Path:
        return self.flows_dir / f"{flow_id}.yaml"

    def stored_flow_files(self) -> list[Path]:
        return sorted(self.flows_dir.glob("*.yaml")) if self.flows_dir.is_dir() else []


def write_text_file(path: Path, text: str) -> None:
    """Replace a flow file atomically, keeping its permissions when it exists (0600 for a new one)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.chmod(temporary, mode)
    os.replace(temporary, path)
