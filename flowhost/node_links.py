"""How messages move between running nodes: a node's output ports wired to its receivers' inboxes, and the
direct way in across flows (``deliver_to``).

A receiver restarted by a redeploy hands on to its successor (``current()``): what is sent to the old one
reaches the new one, in order. A message's receipt is held here once per inbox it enters and released by that
node's worker once ``on_input`` returned (``node_runner.py``): another task, so a count, not ``with holding()``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

from .message import Message

__all__ = ["Ports", "Receiver", "deliver_to", "wire"]


class Receiver(Protocol):
    """A running node as seen by the nodes that send to it."""

    node_id: str
    inbox: asyncio.Queue[Message] | None
    counters: Counter[str]

    def current(self) -> Receiver: ...


class Ports:
    """One node's output ports and the receivers wired to each of them."""

    def __init__(self, node_id: str, names: tuple[str, ...]) -> None:
        self.node_id = node_id
        self.names = names
        """The node's output ports (``Node.output_ports`` of its config)."""
        self.targets: dict[str, list[Receiver]] = {}

    def _check(self, port: str) -> None:
        if port not in self.names:
            raise ValueError(f"node '{self.node_id}' has no output port '{port}'")

    async def send(self, msg: Message, port: str) -> None:
        targets = self.targets.get(port)
        if targets is None:  # a port wired to nothing
            self._check(port)
            return
        receipt = msg.receipt
        if receipt is not None:
            receipt.hold(len(targets))  # all first: a fast receiver must not settle it before the next one has it
        for index, target in enumerate(targets):
            receiver = target.current()
            if receiver.inbox.full():
                receiver.counters["backpressure"] += 1
                try:
                    await receiver.inbox.put(msg)
                except BaseException:  # cancelled while waiting for room: no inbox holds it for the rest
                    if receipt is not None:
                        for _ in range(len(targets) - index):
                            receipt.release()
                    raise
            else:
                receiver.inbox.put_nowait(msg)

    def send_nowait(self, msg: Message, port: str) -> bool:
        targets = self.targets.get(port)
        if targets is None:
            self._check(port)
            return True
        receivers = [target.current() for target in targets]
        for receiver in receivers:
            if receiver.inbox.full():
                return False
        if msg.receipt is not None:
            msg.receipt.hold(len(receivers))
        for receiver in receivers:
            receiver.inbox.put_nowait(msg)
        return True

    def send_many_nowait(self, msgs: Sequence[Message], port: str) -> int:
        targets = self.targets.get(port)
        if targets is None:
            self._check(port)
            return len(msgs)
        receivers = [target.current() for target in targets]
        count = len(msgs)
        for receiver in receivers:
            inbox = receiver.inbox
            if inbox.maxsize > 0:
                count = min(count, inbox.maxsize - inbox.qsize())
        if count <= 0:
            return 0
        taken = msgs[:count] if count < len(msgs) else msgs
        holds = len(receivers)
        for msg in taken:
            if msg.receipt is not None:
                msg.receipt.hold(holds)
        for receiver in receivers:
            put = receiver.inbox.put_nowait
            for msg in taken:
                put(msg)
        return count


async def deliver_to(target: Receiver, msg: Message, address: str) -> None:
    """Put ``msg`` into the input of ``target`` (or its successor), waiting while it is full, its receipt held as
    for a wire's receiver. LookupError for a node without an input."""
    target = target.current()
    if target.inbox is None:
        raise LookupError(f"node {address} has no input")
    if msg.receipt is not None:
        msg.receipt.hold()
    if target.inbox.full():
        target.counters["backpressure"] += 1
    await target.inbox.put(msg)


class _Wired(Protocol):
    wires: Mapping[str, Sequence[str]]


class _Sender(Receiver, Protocol):
    ports: Ports

    @property
    def spec(self) -> _Wired: ...


def wire(nodes: Mapping[str, _Sender]) -> None:
    """Connect each node's ports to the receivers its spec's wires name (wires to absent nodes are left out)."""
    for runner in nodes.values():
        runner.ports.targets = {
            port: [nodes[target] for target in targets if target in nodes]
            for port, targets in runner.spec.wires.items()
        }
