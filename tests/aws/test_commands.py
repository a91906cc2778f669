"""``flowhost aws endpoint`` and ``flowhost aws policy`` run as processes, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.aws.conftest import ACCOUNT, ARN

FLOWHOST = [sys.executable, "-m", "flowhost"]


def flowhost(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*FLOWHOST, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_endpoint_prints_the_host_name() -> None:
    result = flowhost("aws", "endpoint", "--account-prefix", "d4g5d321sd465d-ats", "--region", "eu-central-1")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com:8883\n",
        "",
    )


def test_endpoint_on_port_443_and_in_china() -> None:
    result = flowhost("aws", "endpoint", "--account-prefix", "abc-ats", "--region", "cn-north-1", "--port", "443")
    assert result.stdout == "abc-ats.iot.cn-north-1.amazonaws.com.cn:443\n"


def test_endpoint_without_ats_warns() -> None:
    result = flowhost("aws", "endpoint", "--account-prefix", "d4g5d321sd465d", "--region", "eu-central-1")
    assert result.returncode == 0
    assert result.stdout == "d4g5d321sd465d.iot.eu-central-1.amazonaws.com:8883\n"
    assert result.stderr.startswith("warning: account prefix 'd4g5d321sd465d' does not end in '-ats'")
    assert "Symantec/VeriSign" in result.stderr and "iot:Data-ATS" in result.stderr


def test_endpoint_refuses_an_unknown_region() -> None:
    result = flowhost("aws", "endpoint", "--account-prefix", "d4g5d321sd465d-ats", "--region", "eu-centrall-1")
    assert result.returncode == 2 and result.stdout == ""
    assert "error: 'eu-centrall-1' is not an AWS IoT Core region; did you mean 'eu-central-1'?" in result.stderr
    result = flowhost("aws", "endpoint", "--account-prefix", "abc-ats", "--region", "eu-central-9", "--any-region")
    assert result.stdout == "abc-ats.iot.eu-central-9.amazonaws.com:8883\n"


FLOW = """\
    flowhost: 1
    id: lorawan-to-aws
    connections:
      - id: aws-iot
        connectorId: actility-mqtt-iot
        configuration:
          hostName: d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com:8883
          protocol: SSL
          clientId: thingpark-eu
          certificate: !secret aws_certificate
          privateKey: !secret aws_private_key
          uplinkTopicPattern: "lorawan/{CustomerData.site|'unassigned'}/{DevEUI}/uplink"
          downlinkTopicPattern: "lorawan/{site}/{DevEUI}/downlink"
          retain: RETAIN
      - id: local
        connectorId: actility-mqtt-iot
        configuration:
          hostName: localhost:1883
          protocol: TCP
          uplinkTopicPattern: "local/{DevEUI}"
    nodes:
      - id: uplinks
        type: mqtt-connector
        config: {connection: aws-iot}
"""


@pytest.fixture
def flow_file(tmp_path: Path, pki):
    def write(retain: bool = False) -> Path:
        path = tmp_path / "flow.yaml"
        path.write_text(textwrap.dedent(FLOW).replace("RETAIN", "true" if retain else "false"))
        secrets = {"aws_certificate": pki.client.cert_pem, "aws_private_key": pki.client.key_pem}
        (tmp_path / "secrets.yaml").write_text(
            "".join(f"{name}: |\n{textwrap.indent(value, '  ')}" for name, value in secrets.items())
        )
        return path

    return write


def test_policy_for_a_connection_of_a_flow_file(flow_file) -> None:
    result = flowhost("aws", "policy", "--account-id", ACCOUNT, "--connection", "aws-iot", str(flow_file()))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Connect", "Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/thingpark-eu"},
            {
                "Sid": "PublishUplinks",
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": f"{ARN}:topic/lorawan/*/????????????????/uplink",
            },
            {
                "Sid": "SubscribeDownlinks",
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": f"{ARN}:topicfilter/lorawan/+/+/downlink",
            },
            {
                "Sid": "ReceiveDownlinks",
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": f"{ARN}:topic/lorawan/*/*/downlink",
            },
        ],
    }


def test_policy_with_retain_warns_and_explains(flow_file) -> None:
    result = flowhost(
        "aws", "policy", "--account-id", ACCOUNT, "--connection", "aws-iot", "--explain", str(flow_file(retain=True))
    )
    assert result.returncode == 0, result.stderr
    sids = [statement["Sid"] for statement in json.loads(result.stdout)["Statement"]]
    assert sids == ["Connect", "PublishUplinks", "RetainUplinks", "SubscribeDownlinks", "ReceiveDownlinks"]
    assert "warning: retain is on" in result.stderr
    for line in (
        "Connect: iot:Connect",
        f"    on {ARN}:client/thingpark-eu",
        "RetainUplinks: iot:RetainPublish",
        "SubscribeDownlinks: iot:Subscribe",
    ):
        assert line in result.stderr.splitlines()
    assert "topicfilter/<filter> (not topic/)" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "several actility-mqtt-iot connections (aws-iot, local): choose one with --connection"),
        (["--connection", "awsiot"], "no actility-mqtt-iot connection 'awsiot' (there are: aws-iot, local)"),
        (["--connection", "local"], "hostName 'localhost' names no AWS region: give --region"),
        (["--connection", "aws-iot", "--region", "eu-west-1"], "does not match the region of hostName"),
    ],
)
def test_policy_usage_errors(flow_file, arguments: list[str], message: str) -> None:
    result = flowhost("aws", "policy", "--account-id", ACCOUNT, *arguments, str(flow_file()))
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr


def test_policy_refuses_an_account_id_that_is_not_twelve_digits(flow_file) -> None:
    result = flowhost("aws", "policy", "--account-id", "62108008300", "--connection", "aws-iot", str(flow_file()))
    assert result.returncode == 2
    assert "the AWS account id must be 12 digits" in result.stderr


def test_policy_for_a_plain_broker_says_the_limits_are_not_checked(flow_file) -> None:
    result = flowhost(
        "aws", "policy", "--account-id", ACCOUNT, "--connection", "local", "--region", "eu-west-1", str(flow_file())
    )
    assert result.returncode == 0
    assert "is not an AWS IoT Core endpoint" in result.stderr
    assert (
        json.loads(result.stdout)["Statement"][1]["Resource"]
        == f"arn:aws:iot:eu-west-1:{ACCOUNT}:topic/local/????????????????"
    )


def test_policy_of_an_invalid_flow_prints_its_errors(flow_file) -> None:
    path = flow_file()
    path.write_text(path.read_text().replace("retain: false", "qos: 2"))
    result = flowhost("aws", "policy", "--account-id", ACCOUNT, str(path))
    assert result.returncode == 1
    assert "qos: AWS IoT Core supports QoS 0 and 1 only" in result.stderr
    assert f"{path}:" in result.stderr


def test_policy_includes_the_subscriptions_of_mqtt_in_nodes(flow_file) -> None:
    path = flow_file()
    path.write_text(
        path.read_text()
        + "  - id: presence\n    type: mqtt-in\n    config: {connection: aws-iot, topic: '$aws/events/presence/+/+'}\n"
        + "  - id: elsewhere\n    type: mqtt-in\n    config: {connection: local, topic: 'other/#'}\n"
    )
    result = flowhost("aws", "policy", "--account-id", ACCOUNT, "--connection", "aws-iot", str(path))
    assert result.returncode == 0, result.stderr
    found = {statement["Sid"]: statement["Resource"] for statement in json.loads(result.stdout)["Statement"]}
    assert found["SubscribeMqttIn"] == f"{ARN}:topicfilter/$aws/events/presence/+/+"
    assert found["ReceiveMqttIn"] == f"{ARN}:topic/$aws/events/presence/*/*"


EXPOSED = (
    textwrap.dedent(FLOW)
    .replace(
        "uplinkTopicPattern: \"lorawan/{CustomerData.site|'unassigned'}/{DevEUI}/uplink\"",
        "uplinkTopicPattern: \"lorawan/{CustomerData.site|'unassigned'}/{DevEUI}\"",
    )
    .replace(
        'downlinkTopicPattern: "lorawan/{site}/{DevEUI}/downlink"', 'downlinkTopicPattern: "lorawan/down/x/{DevEUI}"'
    )
)


def test_validate_and_policy_warn_when_uplinks_could_be_downlinks(flow_file) -> None:
    """'lorawan/*/????????????????' also allows 'lorawan/down/x/<DevEUI>': valid, so a warning, not an error."""
    path = flow_file()
    path.write_text(EXPOSED.replace("RETAIN", "false"))
    assert "lorawan/down/x/{DevEUI}" in path.read_text()
    validated = flowhost("validate", str(path), "--data-dir", str(path.parent / "no-data"))
    assert validated.returncode == 0, validated.stderr
    assert "1 flow file(s) valid" in validated.stdout
    warning = f"warning: {path}: connection 'aws-iot': the policy's iot:Publish resource for uplinks, "
    assert warning + "topic/lorawan/*/????????????????, also matches downlink topics" in validated.stderr
    assert "(for example 'lorawan/down/x/0000000000000000')" in validated.stderr
    assert "could send downlinks to every device" in validated.stderr
    assert "connection 'local'" not in validated.stderr  # not an AWS IoT Core host

    policy = flowhost("aws", "policy", "--account-id", ACCOUNT, "--connection", "aws-iot", str(path))
    assert policy.returncode == 0, policy.stderr
    assert "could send downlinks to every device" in " ".join(policy.stderr.split())
    assert "uplinkTopicPattern \"lorawan/{CustomerData.site|'unassigned'}/up/{DevEUI}\"" in " ".join(
        policy.stderr.split()
    )


def test_validate_says_nothing_about_separate_topics(flow_file) -> None:
    path = flow_file()
    validated = flowhost("validate", str(path), "--data-dir", str(path.parent / "no-data"))
    assert validated.returncode == 0, validated.stderr
    assert validated.stderr == ""
