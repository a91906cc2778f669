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

from .data_files import StoreError, read_json, write_json, write_private_file
from .permissions import make_private_directory, restrict_tree
from .secrets.encryption import SecretBox
from .secrets.store import FORMAT_VERSION, SecretStore

TOKEN_ENV = "FLOWHOST_TOKEN"
TOKEN_FILE_NAME = "api-token"
SECRETS_FILE_NAME = "secrets.json"
CONNECTIONS_FILE_NAME = "connections.json"
FLOWS_DIR_NAME = "flows"


def api_token(data_dir: Path, environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The API token and whether it was set explicitly (``FLOWHOST_TOKEN``) rather than generated."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV], True
    path = data_dir / TOKEN_FILE_NAME
    if not path.exists():
        write_private_file(path, secrets.token_urlsafe(32).encode())
    return path.read_text(encoding="ascii").strip(), False


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
        document = read_json(self.connections_path)
        if document is None:
            return []
        if not isinstance(document, dict) or not isinstance(document.get("connections"), list):
            raise StoreError(f"{self.connections_path}: expected {{'version': 1, 'connections': [...]}}")
        return document["connections"]

    def save_connections(self, connections: list[dict[str, Any]]) -> None:
        write_json(self.connections_path, {"version": FORMAT_VERSION, "connections": connections})

    def flow_path(self, flow_id: str) -> Path:
        return self.flows_dir / f"{flow_id}.yaml"

    def stored_flow_files(self) -> list[Path]:
        return sorted(self.flows_dir.glob("*.yaml")) if self.flows_dir.is_dir() else []
