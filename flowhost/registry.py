"""The node-type and connection-type registry, filled through the plugins' ``register`` callbacks."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import voluptuous as vol
from jinja2.sandbox import SandboxedEnvironment

from .node import Connection, Node
from .plugins import PluginHost
from .templating import create_environment

TYPE_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class RegistrationError(ValueError):
    """A plugin registered something the host cannot use; the message says what and how to fix it."""


@dataclass
class Registry:
    node_types: dict[str, type[Node]] = field(default_factory=dict)
    connection_types: dict[str, type[Connection]] = field(default_factory=dict)
    provided_by: dict[str, str] = field(default_factory=dict)
    """``"node:<type>"`` / ``"connection:<connectorId>"`` -> plugin name."""
    templates: SandboxedEnvironment = field(default_factory=create_environment)
    """The topic-template environment, with what the plugins added: configurations are validated with it."""

    @classmethod
    def from_plugins(cls, plugins: PluginHost) -> Registry:
        registry = cls(templates=template_environment(plugins))
        for hook_name, register in (
            ("flowhost_register_node_types", registry.register_node_type),
            ("flowhost_register_connection_types", registry.register_connection_type),
        ):
            for impl in getattr(plugins.hook, hook_name).get_hookimpls():
                plugin_name = impl.plugin_name

                def register_from_plugin(item: type, _name: str = plugin_name, _register=register) -> None:
                    try:
                        _register(item, _name)
                    except RegistrationError as exc:
                        plugins.report(_name, str(exc))

                try:
                    impl.function(register=register_from_plugin)
                except Exception as exc:
                    plugins.report(plugin_name, f"hook {hook_name} failed: {type(exc).__name__}: {exc}")
        return registry

    def register_node_type(self, node_class: type, plugin_name: str) -> None:
        type_name = _check_common(node_class, Node, "type", ("start", "on_input", "on_input_batch", "close"))
        outputs = node_class.outputs
        if not isinstance(outputs, tuple) or not all(isinstance(p, str) and p for p in outputs):
            raise RegistrationError(f"node type '{type_name}': outputs must be a tuple of port names")
        if len(set(outputs)) != len(outputs):
            raise RegistrationError(f"node type '{type_name}': output port names repeat: {outputs}")
        _check_batch_size(node_class, type_name)
        self._claim(f"node:{type_name}", plugin_name, f"node type '{type_name}'")
        self.node_types[type_name] = node_class

    def register_connection_type(self, connection_class: type, plugin_name: str) -> None:
        connector_id = _check_common(connection_class, Connection, "connector_id", ("start", "stop"))
        self._claim(f"connection:{connector_id}", plugin_name, f"connection type '{connector_id}'")
        self.connection_types[connector_id] = connection_class

    def _claim(self, key: str, plugin_name: str, what: str) -> None:
        owner = self.provided_by.get(key)
        if owner is not None:
            raise RegistrationError(f"{what} is already registered by plugin '{owner}'")
        self.provided_by[key] = plugin_name

    def types_of_plugin(self, plugin_name: str) -> list[str]:
        return sorted(key for key, owner in self.provided_by.items() if owner == plugin_name)


_KIND = {Node: "node type", Connection: "connection type"}


def _check_common(cls: type, base: type, name_attribute: str, async_methods: tuple[str, ...]) -> str:
    """What node and connection types share: the base class, a valid name, a voluptuous schema, async methods.
    Returns the type's name."""
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise RegistrationError(f"registered {cls!r}, which is not a flowhost.{base.__name__} subclass")
    name = getattr(cls, name_attribute, None)
    _check_type_name(name, cls, name_attribute)
    what = f"{_KIND[base]} '{name}'"
    if not isinstance(cls.config_schema, vol.Schema):
        raise RegistrationError(f"{what}: config_schema must be a voluptuous Schema")
    for method in async_methods:
        if not inspect.iscoroutinefunction(getattr(cls, method)):
            raise RegistrationError(f"{what}: {method} must be an async method")
    return name


def _check_batch_size(node_class: type[Node], type_name: str) -> None:
    size = node_class.batch_size
    if type(size) is not int or not 1 <= size <= 10_000:
        raise RegistrationError(
            f"node type '{type_name}': batch_size must be a whole number from 1 to 10000, got {size!r}"
        )
    if size > 1 and node_class.on_input_batch is Node.on_input_batch:
        raise RegistrationError(
            f"node type '{type_name}': batch_size is {size} but on_input_batch is not overridden: override it to "
            "handle several messages at once, or leave batch_size at 1"
        )


def _check_type_name(name: object, cls: type, attribute: str) -> None:
    if not isinstance(name, str) or not TYPE_NAME.match(name):
        raise RegistrationError(
            f"{cls.__qualname__}.{attribute} must be lower-case letters, digits and dashes, got {name!r}"
        )


def template_environment(plugins: PluginHost) -> SandboxedEnvironment:
    """The sandboxed environment for topic templates, prepared by every plugin's
    ``flowhost_prepare_template_environment``."""

    def prepare(environment: SandboxedEnvironment) -> None:
        for _ in plugins.call_each("flowhost_prepare_template_environment", environment=environment):
            pass

    return create_environment(prepare)
