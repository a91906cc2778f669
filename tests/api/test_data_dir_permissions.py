"""A real ``flowhost run`` keeps its data directory private: folders 0700 and files 0600, also those that
existed with looser modes (a data dir made by hand, or by an older flowhost), and the connections' folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import aiohttp

from tests.api.conftest import thingpark_body
from tests.api.test_process import start, wait_for_state


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


async def test_the_data_dir_and_the_connection_folders_are_private(flowhost_process, tmp_path, mosquitto):
    data_dir = tmp_path / "data"
    (data_dir / "flows").mkdir(parents=True)
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "flows", 0o755)
    old_flow = data_dir / "flows" / "old.yaml"
    old_flow.write_text("flowhost: 1\nid: old\nnodes: []\n")
    os.chmod(old_flow, 0o644)

    process, url, token = await start(flowhost_process, data_dir)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(f"{url}/api/connections", json={"id": "c1", **thingpark_body(mosquitto)}) as response:
            assert response.status == 201, await response.text()
        await wait_for_state(session, url, "c1", "OPENED")
    found = modes(data_dir)
    assert await process.stop() == 0

    assert {"connections", "connections/c1", "connections/c1/outbox", "flows/old.yaml", "api-token"} <= set(found)
    directories = {name for name in found if (data_dir / name).is_dir()}
    assert {name: mode for name, mode in found.items() if name in directories and mode != 0o700} == {}
    assert {name: mode for name, mode in found.items() if name not in directories and mode != 0o600} == {}
