"""The client's subscriptions: SUBSCRIBE/UNSUBSCRIBE requests and their acknowledgements, and the remembered
subscriptions sent again when a broker did not resume the session."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from . import packets as p
from .errors import AckTimeoutError, NotConnectedError, ProtocolError, SubscribeRefusedError, UnsubscribeRefusedError
from .packets import Subscription
from .protocol import MQTTProtocol


class Subscriptions:
    """The subscribing part of `MQTTClient` (a mixin: the client owns the connection and calls these)."""

    _connection: MQTTProtocol | None
    _loop: asyncio.AbstractEventLoop | None
    protocol_version: int
    action_timeout: float

    def _init_subscriptions(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self._requests: dict[int, asyncio.Future] = {}

    async def subscribe(
        self,
        topic_filter: str,
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
    ) -> int:
        """Subscribe and return the granted QoS; raises `SubscribeRefusedError`. `$share/<group>/<filter>`
        makes a shared subscription (MQTT 5)."""
        subscription = Subscription(topic_filter, qos, no_local, retain_as_published, retain_handling)
        return (await self.subscribe_many([subscription]))[0]

    async def subscribe_many(self, subscriptions: Sequence[Subscription]) -> list[int]:
        """One SUBSCRIBE for several filters; returns the granted QoS of each. Accepted filters are
        remembered even if another one is refused (then `SubscribeRefusedError` names the first refused)."""
        return await self._subscribe(list(subscriptions), ack_timeout=self.action_timeout)

    async def _subscribe(self, subscriptions: list[Subscription], ack_timeout: float | None) -> list[int]:
        packet_id = self._next_packet_id()
        packet = p.Subscribe(packet_id, subscriptions).encode(self.protocol_version)
        suback: p.Suback = await self._request(packet_id, packet, ack_timeout)
        if len(suback.reason_codes) != len(subscriptions):
            raise ProtocolError("SUBACK does not answer every topic filter")
        refused = None
        for subscription, code in zip(subscriptions, suback.reason_codes, strict=True):
            if code >= 0x80:
                self.subscriptions.pop(subscription.topic_filter, None)
                refused = refused or SubscribeRefusedError(subscription.topic_filter, code)
            else:
                self.subscriptions[subscription.topic_filter] = subscription
        if refused is not None:
            raise refused
        return suback.reason_codes

    async def unsubscribe(self, *topic_filters: str) -> None:
        """Unsubscribe and forget the filters; raises `UnsubscribeRefusedError` (MQTT 5 failure codes)."""
        for topic_filter in topic_filters:
            self.subscriptions.pop(topic_filter, None)
        packet_id = self._next_packet_id()
        packet = p.Unsubscribe(packet_id, list(topic_filters)).encode(self.protocol_version)
        unsuback: p.Unsuback = await self._request(packet_id, packet, self.action_timeout)
        for topic_filter, code in zip(topic_filters, unsuback.reason_codes, strict=False):
            if code >= 0x80:
                raise UnsubscribeRefusedError(topic_filter, code)

    async def _request(self, packet_id: int, packet: bytes, ack_timeout: float | None) -> p.Packet:
        connection = self._connection
        if connection is None:
            raise NotConnectedError("not connected")
        future = self._requests[packet_id] = self._loop.create_future()
        connection.write(packet)
        connection.expect_acknowledgements()
        try:
            async with asyncio.timeout(ack_timeout):
                return await future
        except TimeoutError:
            raise AckTimeoutError(f"packet {packet_id} not acknowledged within {ack_timeout} s") from None
        finally:
            self._requests.pop(packet_id, None)

    def _on_request_ack(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet = p.decode_packet(first, buf, start, end, self.protocol_version)
        future = self._requests.get(packet.packet_id)
        if future is not None and not future.done():
            future.set_result(packet)

    async def _resubscribe(self) -> None:
        subscriptions = list(self.subscriptions.values())
        try:
            await self._subscribe(subscriptions, ack_timeout=None)
        except SubscribeRefusedError:
            await self.disconnect()
            raise
