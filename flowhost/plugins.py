"""Loading plugins: built-in and third-party alike come from the ``flowhost`` entry-point group.

There is no global plugin manager: :func:`load_plugins` builds one and the caller passes it around.
A plugin that fails to import, implements an unknown hook or registers a bad type is reported with its
name and distribution; the other plugins still load.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "flowhost"
LOAD_PLUGINS_ENV = "FLOWHOST_LOAD_PLUGINS"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None

    def describe(self) -> str:
        if self.distribution:
            return f"plugin '{self.name}' (distribution {self.distribution} {self.version})"
        return f"plugin '{self.name}'"


@dataclass(frozen=True)
class ResolvedHook:
    """The implementations of one hook, looked up once: calling them costs no search through pluggy."""

    name: str
    implementations: tuple[tuple[str, Callable[..., Any], tuple[str, ...]], ...]
    """``(plugin name, function, argument names)`` for each implementation, in the order they were registered."""
    report: Callable[[str, str], None]

    def each(self, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call every implementation on its own, so that one failing plugin cannot abort the rest.

        Yields ``(plugin_name, result)`` for the implementations that returned; failures are reported.
        """
        for plugin_name, function, argnames in self.implementations:
            arguments = {name: kwargs[name] for name in argnames}
            try:
                yield plugin_name, function(**arguments)
            except Exception as exc:
                self.report(plugin_name, f"hook {self.name} failed: {type(exc).__name__}: {exc}")


@dataclass
class PluginHost:
    """The plugin manager together with what was learnt while loading it."""

    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    runtime_event: ResolvedHook | None = None
    """``flowhost_runtime_event``, resolved when the plugins were loaded: it runs for every event."""

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def info(self, plugin_name: str) -> PluginInfo:
        return self.plugins.get(plugin_name) or PluginInfo(plugin_name, None, None)

    def report(self, plugin_name: str, problem: str) -> None:
        message = f"{self.info(plugin_name).describe()}: {problem}"
        self.errors.append(message)
        log.error("%s", message)

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call every implementation of a hook on its own, so that one failing plugin cannot abort the rest.

        Yields ``(plugin_name, result)`` for the implementations that returned; failures are reported.
        """
        return self.resolve(hook_name).each(**kwargs)

    def resolve(self, hook_name: str) -> ResolvedHook:
        """The hook's implementations as they are now, to call many times (see :attr:`runtime_event`)."""
        implementations = getattr(self.manager.hook, hook_name).get_hookimpls()
        found = tuple((impl.plugin_name, impl.function, tuple(impl.argnames)) for impl in implementations)
        return ResolvedHook(hook_name, found, self.report)

    def event_hook(self) -> ResolvedHook:
        """``flowhost_runtime_event``'s implementations: those resolved by :func:`load_plugins`, else now."""
        return self.runtime_event or self.resolve("flowhost_runtime_event")

    async def call_each_async(self, hook_name: str, **kwargs: Any) -> None:
        """Like :meth:`call_each`, awaiting the awaitables the implementations return."""
        for plugin_name, result in list(self.call_each(hook_name, **kwargs)):
            if inspect.isawaitable(result):
                try:
                    await result
                except Exception as exc:
                    self.report(plugin_name, f"hook {hook_name} failed: {type(exc).__name__}: {exc}")


def requested_plugins(environ: dict[str, str] | None = None) -> set[str] | None:
    """The plugin names ``FLOWHOST_LOAD_PLUGINS`` restricts loading to, or None for all."""
    value = (environ if environ is not None else os.environ).get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def load_plugins(
    only: Iterable[str] | None = None, extra: Iterable[tuple[str, ModuleType | object]] = ()
) -> PluginHost:
    """Build a plugin manager from the ``flowhost`` entry points (restricted to ``only`` when given,
    else to ``FLOWHOST_LOAD_PLUGINS``) plus ``extra`` ``(name, plugin)`` pairs, used by tests.
    """
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    host = PluginHost(manager)
    wanted = set(only) if only is not None else requested_plugins()

    for entry_point, info in installed_entry_points():
        if wanted is not None and entry_point.name not in wanted:
            continue
        host.plugins[entry_point.name] = info
        try:
            plugin = entry_point.load()
        except Exception as exc:
            host.report(entry_point.name, f"cannot be imported: {type(exc).__name__}: {exc}")
            continue
        _register(host, entry_point.name, plugin)

    for name, plugin in extra:
        host.plugins.setdefault(name, PluginInfo(name, None, None))
        _register(host, name, plugin)

    if wanted is not None:
        for missing in sorted(wanted - set(host.plugins)):
            host.errors.append(f"{LOAD_PLUGINS_ENV} names '{missing}', but no such plugin is installed")
    host.runtime_event = host.resolve("flowhost_runtime_event")
    return host


_scanned: tuple[tuple, tuple[tuple[EntryPoint, PluginInfo], ...]] | None = None
"""The last scan of the entry points, with the key it was made for (see :func:`installed_entry_points`)."""


def installed_entry_points() -> tuple[tuple[EntryPoint, PluginInfo], ...]:
    """The ``flowhost`` entry points of the installed distributions, each with its plugin's distribution.

    Scanning reads every installed distribution's entry points and metadata (milliseconds), and a process
    that builds many plugin hosts (a test suite) would scan again each time. The scan is kept while the folders
    it came from are unchanged: the same rule importlib.metadata applies to its own listing of each folder.
    Installing or removing a distribution adds or removes a ``*.dist-info`` folder and so changes its folder's
    modification time; adding a folder to ``sys.path`` changes the key too. Either way the next call scans anew.
    """
    global _scanned
    key = _scan_key()
    if _scanned is None or _scanned[0] != key:
        _scanned = (key, tuple(_scan_entry_points()))
    return _scanned[1]


def _scan_key() -> tuple:
    folders = []
    for folder in sys.path:
        try:
            folders.append((folder, os.stat(folder or ".").st_mtime_ns))
        except OSError:
            folders.append((folder, None))
    return tuple(folders), tuple(id(finder) for finder in sys.meta_path)


def _scan_entry_points() -> Iterator[tuple[EntryPoint, PluginInfo]]:
    # (name, version) per distribution: each read parses its METADATA file, and one distribution has many plugins
    distributions: dict[int, tuple[str | None, str | None]] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        if id(dist) not in distributions:
            metadata = dist.metadata if dist else None
            distributions[id(dist)] = (metadata["Name"], metadata["Version"]) if metadata else (None, None)
        yield entry_point, PluginInfo(entry_point.name, *distributions[id(dist)])


def _register(host: PluginHost, name: str, plugin: object) -> None:
    try:
        host.manager.register(plugin, name=name)
        host.manager.check_pending()
    except (pluggy.PluginValidationError, ValueError) as exc:
        if host.manager.is_registered(plugin):
            host.manager.unregister(plugin)
        host.report(name, f"was not loaded: {exc}")
