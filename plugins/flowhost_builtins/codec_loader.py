"""Loading codecs from a folder and choosing one for each device.

A codec folder holds JavaScript files; a codec's name is its file name without ``.js``. Beside them, files named
``<something>-codec.yaml`` in The Things Network device repository's form (``uplinkDecoder``, ``downlinkEncoder``,
``downlinkDecoder``, each with a ``fileName`` and ``examples``) describe codecs and their examples, which
``flowhost codec test`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError

from .codec_apis import Codec
from .js_sandbox import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, MAX_SOURCE_CHARS, SandboxError

__all__ = ["INLINE_CODEC", "CodecFolderError", "CodecSet", "folder_fingerprint", "load_codec_folder"]

log = logging.getLogger("flowhost.codecs")

INLINE_CODEC = "inline"
MAX_CODEC_FILES = 500


class CodecFolderError(Exception):
    """The codec folder cannot be read (missing, too many files, a file unreadable)."""


def _codec_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CodecFolderError(f"codecs: {folder} is not a folder")
    files = sorted(folder.glob("*.js"))
    if len(files) > MAX_CODEC_FILES:
        raise CodecFolderError(f"codecs: {folder} holds {len(files)} .js files, more than {MAX_CODEC_FILES}")
    return files


def folder_fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the folder's codec files: changes when a codec is edited."""
    entries = []
    for path in _codec_files(folder):
        stat = path.stat()
        entries.append((path.name, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def read_source(path: Path) -> str:
    """A codec file's text; CodecFolderError when it cannot be read or is too large."""
    try:
        if path.stat().st_size > MAX_SOURCE_CHARS:
            raise CodecFolderError(f"{path.name}: larger than {MAX_SOURCE_CHARS} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CodecFolderError(f"{path.name}: cannot read: {exc}") from None


def load_codec_folder(
    folder: Path, *, timeout: float = DEFAULT_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> tuple[dict[str, Codec], dict[str, str]]:
    """Load every ``*.js`` file of ``folder``: the codecs by name, and the reason for each file that failed."""
    codecs: dict[str, Codec] = {}
    failures: dict[str, str] = {}
    for path in _codec_files(folder):
        try:
            codecs[path.stem] = Codec(path.stem, read_source(path), timeout=timeout, memory_limit=memory_limit)
        except (CodecFolderError, SandboxError) as exc:
            failures[path.stem] = str(exc)
    return codecs, failures


def read_codec_yaml(path: Path) -> Mapping[str, Any]:
    """A ``*-codec.yaml`` document; ValueError with the file name when it is not a YAML mapping."""
    try:
        document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    if not isinstance(document, Mapping):
        raise ValueError(f"{path}: expected a mapping with uplinkDecoder, downlinkEncoder, downlinkDecoder")
    return document


@dataclass
class CodecSet:
    """The loaded codecs and which one each device uses.

    The first that applies wins: the DevEUI in ``devices``; the ThingPark ``DriverCfg`` model (``mod``) in
    ``models``, then its application profile (``app``) in ``profiles``, each keyed ``pId:mId:ver`` or ``pId:mId``;
    a CustomerData tag in ``tags``; then ``default``.
    """

    codecs: dict[str, Codec]
    failures: dict[str, str] = field(default_factory=dict)
    devices: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    profiles: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def close(self) -> None:
        """End the codecs' sandbox threads."""
        for codec in self.codecs.values():
            codec.close()

    def unknown_names(self) -> list[str]:
        """Codec names the mapping uses that are neither loaded nor failed to load."""
        named = [*self.devices.values(), *self.models.values(), *self.profiles.values(), *self.tags.values()]
        if self.default is not None:
            named.append(self.default)
        return sorted({name for name in named if name not in self.codecs and name not in self.failures})

    def name_for(self, fields: Mapping[str, Any]) -> str | None:
        """The codec name for an uplink's (or downlink's) fields, or None when no rule applies."""
        if not (self.devices or self.models or self.profiles or self.tags):  # the common case: one codec for all
            return self.default
        dev_eui = fields.get("DevEUI")
        if isinstance(dev_eui, str) and self.devices:
            name = self.devices.get(dev_eui.upper())
            if name is not None:
                return name
        driver = fields.get("DriverCfg") if self.models or self.profiles else None
        if isinstance(driver, Mapping):
            name = _driver_match(driver.get("mod"), self.models) or _driver_match(driver.get("app"), self.profiles)
            if name is not None:
                return name
        if self.tags:
            customer_data = fields.get("CustomerData")
            device_tags = customer_data.get("tags") if isinstance(customer_data, Mapping) else None
            if isinstance(device_tags, list | tuple):
                for tag in device_tags:
                    if isinstance(tag, str) and tag in self.tags:
                        return self.tags[tag]
        return self.default


def _driver_match(ids: Any, table: Mapping[str, str]) -> str | None:
    """ThingPark's DriverCfg gives a model and a profile as ``{pId, mId, ver}``: match with or without ``ver``."""
    if not table or not isinstance(ids, Mapping):
        return None
    producer, model, version = ids.get("pId"), ids.get("mId"), ids.get("ver")
    if not isinstance(producer, str) or not isinstance(model, str):
        return None
    if version is not None:
        name = table.get(f"{producer}:{model}:{version}")
        if name is not None:
            return name
    return table.get(f"{producer}:{model}")
