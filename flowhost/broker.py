"""The embedded local test broker (amqtt, the maintained fork of hbmqtt).

It is for trying flows on one machine. It is about ten times slower than Mosquitto and was seen to drop
messages from a publisher that disconnected right after publishing: production flows use a real broker.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

log = logging.getLogger(__name__)

# Only what a local test broker needs: the default set also logs every packet and publishes $SYS topics.
_PLUGINS = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": _PLUGINS,
        }

    async def start(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from amqtt.broker import Broker

        for noisy in ("amqtt", "transitions"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._broker = Broker(self._config())
        try:
            await self._broker.start()
        except Exception as exc:
            self._broker = None
            raise OSError(f"cannot start the local test broker on {self.address}: {exc}") from exc
        log.info("local test broker (amqtt) listening on %s", self.address)

    async def stop(self) -> None:
        if self._broker is None:
            return
        broker, self._broker = self._broker, None
        try:
            await asyncio.wait_for(broker.shutdown(), 3)
        except (TimeoutError, Exception) as exc:
            log.warning("local test broker did not shut down cleanly: %s", exc)
