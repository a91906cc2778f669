"""What the connector publishes for one ThingPark document: a pure function of the document, the connection's
settings and the time, tested without a broker.

``prepare_uplink`` gives the topic, the payload bytes and the expiry, or raises ``UplinkRejected`` with the
reason (``expired`` set when it is too old under ``uplinkTimeValidity``). The connection only queues the result;
it prepares with an ``UplinkPreparer`` of its settings, made once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from flowhost.templating import TopicRenderError

from .mqtt_connection_config import MqttConnectionSettings
from .thingpark import DocumentError, uplink_age
from .thingpark_documents import DOCUMENT_TYPE, UPLINK_ROOT, ThingParkDocument, read_document, topic_fields


class UplinkRejected(ValueError):
    """This uplink cannot be published (bad topic value, expired...); the reason is the message."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


class PreparedUplink(NamedTuple):
    topic: str
    payload: bytes
    expires_at: float | None
    """Epoch seconds after which it must not be published (``uplinkTimeValidity``); None: never expires."""


def prepare_uplink(
    document: Any,
    settings: MqttConnectionSettings,
    arrival: float,
    now: float,
    *,
    source_bytes: bytes | None = None,
) -> PreparedUplink:
    """The uplink ``document`` (arrived at ``arrival``, epoch seconds) as published at ``now``. ``source_bytes``:
    the JSON it was parsed from, published as they are when the document goes out unchanged."""
    return UplinkPreparer(settings).prepare(document, arrival, now, source_bytes)


class UplinkPreparer:
    """:func:`prepare_uplink` for one connection's settings, with what depends on them alone worked out once: a
    connection prepares every uplink it publishes with its own."""

    __slots__ = ("_limits", "_plain_uplinks", "_reshapes", "_template", "_validity", "settings")

    def __init__(self, settings: MqttConnectionSettings) -> None:
        self.settings = settings
        self._template = settings.uplink_topic
        # An uplink is rendered as it is, unless the pattern names its kind: building the fields costs a copy.
        self._plain_uplinks = DOCUMENT_TYPE not in self._template.placeholders
        self._validity = settings.uplink_time_validity
        self._limits = settings.uplink_limits
        self._reshapes = settings.send_raw_decoded_format or settings.send_metadata

    def prepare(self, document: Any, arrival: float, now: float, source_bytes: bytes | None = None) -> PreparedUplink:
        """See :func:`prepare_uplink`."""
        if type(document) is not dict and not isinstance(document, Mapping):
            raise UplinkRejected(
                f"an uplink must be a JSON object (a ThingPark document), got {type(document).__name__}"
            )
        try:
            thingpark = read_document(document)
        except DocumentError as exc:
            raise UplinkRejected(str(exc)) from None
        kind, fields, wrapped = thingpark
        expires_at = None if self._validity is None else self._expiry(fields, arrival, now)
        uplink = kind == UPLINK_ROOT
        try:
            topic = self._template.render(fields if uplink and self._plain_uplinks else topic_fields(thingpark))
        except TopicRenderError as exc:
            raise UplinkRejected(str(exc)) from None
        unchanged = not uplink or (wrapped and not self._reshapes)
        published = document if unchanged else published_document(document, thingpark, self.settings)
        if published is document and source_bytes is not None:
            payload = source_bytes
        else:
            # orjson returns its 16 KiB work buffer as the bytes object; a copy of the exact size keeps a full
            # outbox at ~1 KiB per uplink instead of ~17 KiB.
            payload = bytes(memoryview(orjson.dumps(published)))
        if self._limits is not None:
            problem = self._limits.check(topic, payload)
            if problem is not None:
                raise UplinkRejected(problem)
        return PreparedUplink(topic, payload, expires_at)

    def _expiry(self, fields: Mapping[str, Any], arrival: float, now: float) -> float:
        age = uplink_age(fields, datetime.fromtimestamp(now, UTC), datetime.fromtimestamp(arrival, UTC))
        remaining = self._validity - age
        if remaining <= 0:
            raise UplinkRejected(
                f"uplink of {fields.get('DevEUI')} is {age:.0f}s old, older than uplinkTimeValidity "
                f"({self._validity:g}s): not published",
                expired=True,
            )
        return now + remaining


def published_document(
    document: Mapping[str, Any], thingpark: ThingParkDocument, settings: MqttConnectionSettings
) -> Any:
    """What goes out: sendRawDecodedFormat and sendMetadata reshape uplinks only; every other document keeps its
    root, which says what it is."""
    kind, fields, wrapped = thingpark
    if kind != UPLINK_ROOT:
        return document
    if settings.send_raw_decoded_format and isinstance(fields.get("payload"), Mapping):
        return fields["payload"]
    if settings.send_metadata:
        return fields
    return document if wrapped else {UPLINK_ROOT: fields}
