"""``!secret NAME`` references in flow files, and their resolution at start.

A secret value is a ``Secret``: a ``str`` that remembers its name, so a flow written back to YAML gets the
``!secret NAME`` reference again and never the value, and whose ``repr`` never shows the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

SECRET_ENV_PREFIX = "FLOWHOST_SECRET_"
SECRETS_FILE_NAME = "secrets.yaml"


@dataclass(frozen=True)
class SecretRef:
    """A ``!secret NAME`` as read from a file, before resolution."""

    name: str


@dataclass(frozen=True)
class EnvRef:
    """A ``!env_var NAME [default]`` as read from a file: a value from the environment, not a secret."""

    name: str
    default: str | None = None

    @classmethod
    def parse(cls, text: str) -> EnvRef:
        name, _, default = text.strip().partition(" ")
        return cls(name, default.strip() or None)


class Secret(str):
    """A resolved secret value; it knows the reference it came from."""

    name: str

    def __new__(cls, value: str, name: str) -> Secret:
        instance = super().__new__(cls, value)
        instance.name = name
        return instance

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r})"


class SecretNotFound(LookupError):
    pass


class SecretResolver:
    """Looks ``NAME`` up in ``FLOWHOST_SECRET_<NAME>`` and then in ``secrets.yaml`` beside the flow file."""

    def __init__(self, flow_dir: Path | None, environ: dict[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else os.environ
        self._file = flow_dir / SECRETS_FILE_NAME if flow_dir else None
        self._file_values: dict[str, str] | None = None

    def resolve(self, ref: SecretRef) -> Secret:
        env_name = SECRET_ENV_PREFIX + ref.name.upper()
        if env_name in self._environ:
            return Secret(self._environ[env_name], ref.name)
        values = self._load_file()
        if ref.name in values:
            return Secret(str(values[ref.name]), ref.name)
        where = f" or add '{ref.name}: ...' to {self._file}" if self._file else ""
        raise SecretNotFound(f"secret '{ref.name}' is not set: define the environment variable {env_name}{where}")

    def resolve_env(self, ref: EnvRef) -> str:
        value = self._environ.get(ref.name, ref.default)
        if value is None:
            raise SecretNotFound(f"environment variable {ref.name} is not set and '!env_var' gives no default")
        return value

    def _load_file(self) -> dict[str, str]:
        if self._file_values is None:
            self._file_values = {}
            if self._file is not None and self._file.is_file():
                loaded = YAML(typ="safe").load(self._file.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._file_values = {str(key): value for key, value in loaded.items()}
        return self._file_values
