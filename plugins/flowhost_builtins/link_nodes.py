"""``link-out`` and ``link-in``: wires between flows.

A ``link-out`` names its targets as ``flow/node`` (a ``link-in`` of any flow), ``node`` (a ``link-in`` of its
own flow) or a link name (every ``link-in`` whose ``name`` it is, in any flow). Targets are looked up among the
running nodes for each message (the runtime keeps the index until the next deploy), so flows may be deployed in
any order; a message whose targets are all missing fails, naming them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from flowhost import Message, Node

LINK_IN = "link-in"
HOPS_KEY = "linkHops"
MAX_HOPS = 16
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,127})?$")


def link_target(value: Any) -> str:
    """Voluptuous validator: ``flow/node``, ``node`` or a link name."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise vol.Invalid(
            f"a link target is flow/node, a node id or a link name (letters, digits, _ . -), got {value!r}"
        )
    return value


class LinkInNode(Node):
    """Passes on what link-out nodes (of any flow) deliver to it; ``name`` lets them name it without its flow."""

    type = LINK_IN
    category = "input"
    description = "Receives what link-out nodes of any flow send to it (by flow/node id, or by its link name)."
    outputs = ("out",)
    config_schema = vol.Schema(
        {vol.Optional("name", description="a link name link-out nodes may use instead of flow/node"): link_target}
    )

    async def on_input(self, msg: Message) -> None:
        await self.context.send(msg)


class LinkOutNode(Node):
    """Sends each message to the ``link-in`` nodes its ``links`` name."""

    type = "link-out"
    category = "output"
    description = "Sends each message to link-in nodes of any flow: flow/node, node (this flow) or a link name."
    outputs = ()
    config_schema = vol.Schema(
        {
            vol.Required("links", description="targets: flow/node, a node id of this flow, or a link name"): vol.All(
                [link_target], vol.Length(min=1, max=100)
            )
        }
    )

    @classmethod
    def check_across_flows(cls, config, flow_id, flows):
        link_ins = {
            f"{spec_id}/{node.id}": node.config
            for spec_id, spec in flows.items()
            for node in spec.nodes
            if node.type == LINK_IN
        }
        names = sorted(link_ins) + sorted({c["name"] for c in link_ins.values() if "name" in c})
        return [
            (
                ("links", index),
                f"no link-in '{link}' in the flows given (link-in nodes and names: {', '.join(names) or 'none'})",
            )
            for index, link in enumerate(config["links"])
            if not _resolve(link, flow_id, link_ins)
        ]

    async def on_input(self, msg: Message) -> None:
        hops = msg.meta.get(HOPS_KEY, 0)
        if not isinstance(hops, int) or hops >= MAX_HOPS:
            raise ValueError(f"the message went through {MAX_HOPS} links: link nodes wired in a loop?")
        targets, missing = self._resolve()
        if missing:
            self.context.status(f"no link-in for {', '.join(missing)}", "warning")
            if not targets:
                running = ", ".join(sorted(self.context.find_nodes(LINK_IN))) or "none"
                raise LookupError(f"no running link-in for {', '.join(missing)} (running link-in nodes: {running})")
            self.context.count("missing")
        else:
            self.context.status(f"linked to {len(targets)}", "ok")
        out = msg.derive(meta={**msg.meta, HOPS_KEY: hops + 1})
        for address in targets:
            await self.context.deliver(address, out)
        self.context.count("sent")

    def _resolve(self) -> tuple[list[str], list[str]]:
        """The addresses of the targets that run now, and the links that name none."""
        running = self.context.find_nodes(LINK_IN)
        targets: list[str] = []
        missing: list[str] = []
        for link in self.config["links"]:
            found = _resolve(link, self.context.flow_id, running)
            if found:
                targets += [address for address in found if address not in targets]
            else:
                missing.append(link)
        return targets, missing


def _resolve(link: str, own_flow: str, link_ins: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The ``flow/node`` addresses among ``link_ins`` (address -> config) that ``link`` names."""
    if link in link_ins:
        return [link]
    if "/" in link:
        return []
    own = [f"{own_flow}/{link}"] if f"{own_flow}/{link}" in link_ins else []
    return own + sorted(address for address, config in link_ins.items() if config.get("name") == link)
