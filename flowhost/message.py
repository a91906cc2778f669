"""The message that travels between nodes: immutable, so fan-out can share one instance safely."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from typing import Any, TypedDict

import orjson

from .mqtt.settlement import Refusal, Settlement

__all__ = ["FrozenDict", "Message", "Receipt", "Refusal", "RootOptions", "freeze"]

# A per-process prefix keeps ids unique across restarts without paying for uuid4 on every message.
_ID_PREFIX = os.urandom(4).hex()
_next_number = itertools.count(1).__next__


def _format_id(number: int) -> str:
    return f"{_ID_PREFIX}-{number:x}"


class FrozenDict(dict):
    """A dict that refuses changes after construction.

    It stays a real ``dict`` subclass so that ``json``/``orjson`` serialise it without a conversion step.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("message payloads are immutable; build a new payload and call msg.derive(payload=...)")

    __setitem__ = __delitem__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def thaw(self) -> dict[str, Any]:
        """A mutable deep copy, for building a changed payload."""
        return thaw(self)


_FROZEN = frozenset({str, int, float, bool, type(None), bytes, FrozenDict, tuple})
"""Types that ``freeze`` returns unchanged (exact types; subclasses take the slower path)."""


def freeze(value: Any) -> Any:
    """Deep-freeze JSON-like data: dicts become FrozenDict, lists become tuples."""
    kind = type(value)
    # Exact-type checks first: this runs for every inbound message and ``isinstance`` against a union is slow.
    if kind is dict:
        return FrozenDict({key: item if type(item) in _FROZEN else freeze(item) for key, item in value.items()})
    if kind is list:
        return tuple([item if type(item) in _FROZEN else freeze(item) for item in value])
    if kind in _FROZEN or isinstance(value, FrozenDict | tuple | str | int | float | bool | bytes) or value is None:
        return value
    if isinstance(value, Mapping):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | set | frozenset):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The mutable deep copy of frozen data."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value


_EMPTY = FrozenDict()


Receipt = Settlement
"""What a message carries when its source must learn that every node it reached has handled it, and whether one
refused it: a :class:`~flowhost.mqtt.settlement.Settlement` under its flow-facing name.

A source that must answer its own sender (the HTTP 202 of ``http-uplink``) makes one, sends messages that carry it
within ``with receipt.holding():`` (or releases its creator's hold once it has sent them) and awaits
:meth:`~Settlement.wait`. The runtime holds the receipt once for every inbox a carrying message enters and
releases it when the node's ``on_input`` returned; derived messages carry it on. A node that stores the message
durably calls :meth:`~Settlement.mark_durable`; one that cannot take it calls :meth:`~Settlement.refuse`.
"""


_UNDECODED: Any = object()


class RootOptions(TypedDict, total=False):
    """What a new root message takes besides its payload (:meth:`Message.create`, :meth:`Message.from_bytes`)."""

    topic: str | None
    meta: Mapping[str, Any] | None
    receipt: Receipt | None


class Message:
    """What nodes pass to each other.

    ``payload`` is deep-frozen JSON-like data (or bytes); ``topic`` is optional routing information;
    ``meta`` carries extra facts (received topic, QoS, HTTP headers...). ``id`` is unique per process run and
    ``parent_id`` links a derived message to the one it came from, so errors can name both. Messages are
    immutable: build a new payload and call :meth:`derive`.

    ``source_bytes`` is set on messages made by :meth:`from_bytes` (as ``mqtt-in`` makes what it receives): the
    bytes the payload is decoded from, unchanged. The payload is then decoded and frozen only when a node first
    reads it; a node that forwards a document can parse or send these bytes itself and skip freezing.
    ``http-uplink`` parses and checks the POSTed document before answering; an unchanged document then travels
    as the posted bytes (:meth:`from_bytes`), one it had to change (a DevEUI upper-cased) as the parsed document
    (:meth:`create`).
    """

    __slots__ = ("_id", "_parent_id", "_payload", "meta", "receipt", "source_bytes", "topic")

    _payload: Any
    _id: str | int  # a number until the id is first read: most messages never need their id as text
    topic: str | None
    meta: Mapping[str, Any]
    _parent_id: str | int | None  # the parent's number (or its id, once formatted)
    receipt: Receipt | None
    """Set by sources that need to know when the message was taken (see :class:`Receipt`)."""
    source_bytes: bytes | None

    def __init__(
        self,
        payload: Any,
        topic: str | None = None,
        meta: Mapping[str, Any] = _EMPTY,
        id: str | None = None,
        parent_id: str | int | None = None,
        receipt: Receipt | None = None,
        *,
        source_bytes: bytes | None = None,
    ) -> None:
        """Use :meth:`create` (which freezes) or :meth:`from_bytes`: this constructor takes values as they are."""
        _set_payload(self, payload)
        _set_topic(self, topic)
        _set_meta(self, meta)
        _set_id(self, _next_number() if id is None else id)
        _set_parent_id(self, parent_id)
        _set_receipt(self, receipt)
        _set_source_bytes(self, source_bytes)

    @classmethod
    def create(
        cls,
        payload: Any,
        topic: str | None = None,
        meta: Mapping[str, Any] | None = None,
        receipt: Receipt | None = None,
    ) -> Message:
        """A new root message; payload and meta are frozen (copied) here."""
        return cls(freeze(payload), topic, freeze(meta) if meta else _EMPTY, None, None, receipt)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        topic: str | None = None,
        meta: Mapping[str, Any] | None = None,
        receipt: Receipt | None = None,
    ) -> Message:
        """A new root message whose payload is the JSON document in ``data``, or ``data`` itself when it is not
        JSON; decoded when first read. ``source_bytes`` is ``data``; the options are those of :meth:`create`."""
        # Keywords rather than **options: made for every message mqtt-in receives (0.95 -> 0.75 us a message).
        return cls(_UNDECODED, topic, freeze(meta) if meta else _EMPTY, None, None, receipt, source_bytes=data)

    @property
    def id(self) -> str:
        """Unique per process run."""
        number = self._id
        if type(number) is not int:
            return number
        text = _format_id(number)
        _set_id(self, text)
        return text

    @property
    def parent_id(self) -> str | None:
        """The id of the message this one was derived from (None for a root message); read seldom (errors, the
        debug view), so formatted at each read."""
        parent = self._parent_id
        return _format_id(parent) if type(parent) is int else parent

    @property
    def payload(self) -> Any:
        payload = self._payload
        if payload is _UNDECODED:
            try:
                payload = freeze(orjson.loads(self.source_bytes))
            except orjson.JSONDecodeError:
                payload = self.source_bytes
            _set_payload(self, payload)
        return payload

    def derive(self, payload: Any = ..., topic: str | None = ..., meta: Mapping[str, Any] | None = ...) -> Message:
        """A child message: unchanged fields are shared, ``parent_id`` points at this message."""
        unchanged = payload is ...
        return Message(
            self._payload if unchanged else freeze(payload),
            self.topic if topic is ... else topic,
            self.meta if meta is ... else (freeze(meta) if meta else _EMPTY),
            None,
            self._id,  # the parent's number (or id): formatted only when parent_id is read
            self.receipt,
            source_bytes=self.source_bytes if unchanged else None,
        )

    def derive_from_bytes(self, data: bytes) -> Message:
        """A child message whose payload is the JSON document in ``data``, decoded when first read (as for
        :meth:`from_bytes`); topic, meta and receipt are kept. For a node that rebuilt a document it parsed from
        ``source_bytes`` itself: serialising it is cheaper than freezing it, and a connector can send the bytes."""
        return Message(_UNDECODED, self.topic, self.meta, None, self._id, self.receipt, source_bytes=data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"messages are immutable: cannot set {name!r}; use msg.derive(...)")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.id, self.topic, self.parent_id, self.meta, self.payload) == (
            other.id,
            other.topic,
            other.parent_id,
            other.meta,
            other.payload,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Message(payload={self.payload!r}, topic={self.topic!r}, meta={self.meta!r}, id={self.id!r}, "
            f"parent_id={self.parent_id!r})"
        )


# Messages refuse attribute assignment (``__setattr__``); they set their own slots through the slots' descriptors,
# a third of the cost of object.__setattr__ for each (a message is made for every uplink that arrives).
_set_payload = Message._payload.__set__
_set_topic = Message.topic.__set__
_set_meta = Message.meta.__set__
_set_id = Message._id.__set__
_set_parent_id = Message._parent_id.__set__
_set_receipt = Message.receipt.__set__
_set_source_bytes = Message.source_bytes.__set__
