"""The debug node: every message to the editor's panel (runtime ``debug`` events), to the log only when asked."""

from __future__ import annotations

import asyncio
import logging

FLOW = """
flowhost: 1
id: looked-at
nodes:
  - id: source
    type: test-emit
    config: {payloads: [{n: 1}, {n: 2}, {n: 3}]}
    wires: {out: [quiet, loud]}
  - {id: quiet, type: debug}
  - {id: loud, type: debug, config: {console: true}}
"""


async def test_debug_shows_every_message_and_logs_only_with_console_true(runtime, load_flow, caplog):
    caplog.set_level(logging.INFO, logger="flowhost.debug")
    shown: list[tuple[str, str]] = []
    runtime.add_listener(lambda event: shown.append((event.node_id, event.kind)) if event.kind == "debug" else None)
    await runtime.deploy(load_flow(FLOW))
    async with asyncio.timeout(5):
        while len(shown) < 6:
            await asyncio.sleep(0.01)
    assert sorted(shown) == [("loud", "debug")] * 3 + [("quiet", "debug")] * 3
    logged = [record.getMessage() for record in caplog.records if record.name == "flowhost.debug"]
    assert logged == [f'[loud] - {{"n":{n}}}' for n in (1, 2, 3)]
