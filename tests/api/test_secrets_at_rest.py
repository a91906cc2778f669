"""Secrets received through the API: encrypted in the data dir, never in files, logs or answers."""

from __future__ import annotations

import logging
import stat

import pytest
from cryptography.fernet import Fernet

from flowhost.secrets import SECRET_KEY_ENV, SecretBox, SecretKeyError
from flowhost.store import Store
from tests.api.conftest import client_certificate_body, thingpark_body
from tests.support.brokers import PASSWORD
from tests.support.mqtt_helpers import wait_until


def key_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))[:64]


async def test_no_password_or_private_key_in_the_data_dir_the_flow_files_the_logs_or_the_answers(
    api, runtime, mosquitto, pki, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    answers = []
    mtls = client_certificate_body(mosquitto, pki)
    for body in (thingpark_body(mosquitto), mtls):
        response = await api.post("/api/connections", json=body)
        answers.append(await response.text())
        assert response.status == 201, answers[-1]
    await wait_until(lambda: runtime.connections["mtls"].connection.state == "OPENED")
    flow = {
        "flowhost": 1,
        "id": "with-secret",
        "connections": [
            {
                "id": "own",
                "connectorId": "actility-mqtt-iot",
                "configuration": {
                    "uplinkTopicPattern": "own/{DevEUI}",
                    "hostName": f"127.0.0.1:{mosquitto.tcp_port}",
                    "protocol": "TCP",
                    "username": "flowhost",
                    "password": PASSWORD,
                },
            }
        ],
        "nodes": [{"id": "connector", "type": "mqtt-connector", "config": {"connection": "own"}}],
    }
    response = await api.post("/api/flows", json=flow)
    answers.append(await response.text())
    assert response.status == 201, answers[-1]
    bad = {**mtls, "id": "bad", "configuration": {**mtls["configuration"], "certificate": pki.ca.cert_pem}}
    response = await api.post("/api/connections", json=bad)  # a refused key must not be echoed either
    answers.append(await response.text())
    assert response.status == 400
    for path in ("/api/connections", "/api/connections/mtls", "/api/flows/with-secret", "/api/flows/with-secret/yaml"):
        answers.append(await (await api.get(path)).text())
    await wait_until(lambda: runtime.connections["own"].connection.state == "OPENED")

    secrets = {"password": PASSWORD, "private key": key_body(pki.client.key_pem)}
    files = [path for path in runtime.data_dir.rglob("*") if path.is_file()]
    assert runtime.data_dir / "flows" / "with-secret.yaml" in files
    captured = capfd.readouterr()
    places = {str(path): path.read_bytes().decode(errors="replace") for path in files}
    places |= {"log": caplog.text, "stderr": captured.err, "stdout": captured.out, "answers": "\n".join(answers)}
    for what, secret in secrets.items():
        for place, text in places.items():
            assert secret not in text, f"the {what} is in {place}"
    assert (
        "!secret with-secret_own_password".replace("-", "_")
        in places[str(runtime.data_dir / "flows" / "with-secret.yaml")]
    )
    assert stat.S_IMODE((runtime.data_dir / "secret.key").stat().st_mode) == 0o600


def test_the_key_comes_from_the_environment_and_a_wrong_key_is_named(tmp_path):
    key = Fernet.generate_key().decode()
    store = Store(tmp_path, {SECRET_KEY_ENV: key})
    store.secrets.update({"name": "value"})
    assert not (tmp_path / "secret.key").exists()
    assert Store(tmp_path, {SECRET_KEY_ENV: key}).secrets.get("name") == "value"
    with pytest.raises(SecretKeyError, match="not the key it was stored with"):
        Store(tmp_path, {SECRET_KEY_ENV: Fernet.generate_key().decode()}).secrets.get("name")
    with pytest.raises(SecretKeyError, match="is not a Fernet key"):
        SecretBox(b"short")
