"""The secrets received through the API, encrypted one by one in the data directory's ``secrets.json``, and the
``!secret`` resolver that also looks there."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..data_files import read_json, write_json
from .encryption import SecretBox
from .references import Secret, SecretNotFound, SecretRef, SecretResolver

FORMAT_VERSION = 1


class SecretStore:
    """Named secrets, encrypted one by one, in ``secrets.json``."""

    def __init__(self, path: Path, box: SecretBox) -> None:
        self._path = path
        self._box = box
        document = read_json(path) or {}
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
        write_json(self._path, {"version": FORMAT_VERSION, "secrets": self._tokens})


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
