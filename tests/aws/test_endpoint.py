"""Endpoints from an account prefix and a region; regions; recognising an AWS IoT Core host."""

from __future__ import annotations

import pytest

from flowhost_builtins.aws_iot import (
    AWS_IOT_REGIONS,
    AwsIotError,
    account_prefix_warning,
    check_account_id,
    check_region,
    endpoint_host,
    is_aws_iot_host,
)


@pytest.mark.parametrize(
    ("prefix", "region", "host"),
    [
        ("d4g5d321sd465d-ats", "eu-central-1", "d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com"),
        ("a1b2c3d4e5f6g7-ats", "us-east-1", "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com"),
        ("a1b2c3d4e5f6g7-ats", "us-gov-west-1", "a1b2c3d4e5f6g7-ats.iot.us-gov-west-1.amazonaws.com"),
        ("a1b2c3d4e5f6g7-ats", "cn-north-1", "a1b2c3d4e5f6g7-ats.iot.cn-north-1.amazonaws.com.cn"),
        ("a1b2c3d4e5f6g7", "cn-northwest-1", "a1b2c3d4e5f6g7.iot.cn-northwest-1.amazonaws.com.cn"),
        (" D4G5D321SD465D-ATS ", " EU-CENTRAL-1 ", "d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com"),
    ],
)
def test_endpoint_host(prefix: str, region: str, host: str) -> None:
    assert endpoint_host(prefix, region) == host
    assert is_aws_iot_host(host)


def test_every_listed_region_makes_an_aws_iot_host() -> None:
    for region, suffix in AWS_IOT_REGIONS.items():
        host = endpoint_host("abc-ats", region)
        assert host.endswith(f".iot.{region}.{suffix}") and is_aws_iot_host(host)
        assert suffix == ("amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com")


def test_unknown_region_is_refused_with_the_closest_suggestion() -> None:
    with pytest.raises(AwsIotError) as caught:
        endpoint_host("d4g5d321sd465d-ats", "eu-centrl-1")
    message = str(caught.value)
    assert "'eu-centrl-1' is not an AWS IoT Core region; did you mean 'eu-central-1'?" in message
    assert "cn-north-1" in message and "--any-region" in message


def test_unlisted_region_is_accepted_only_when_asked_and_well_formed() -> None:
    with pytest.raises(AwsIotError):
        check_region("ap-southeast-9")
    assert check_region("ap-southeast-9", allow_unlisted=True) == "ap-southeast-9"
    with pytest.raises(AwsIotError):
        check_region("mars", allow_unlisted=True)


def test_prefix_without_ats_gets_the_ats_advice() -> None:
    assert account_prefix_warning("d4g5d321sd465d-ats") is None
    warning = account_prefix_warning("d4g5d321sd465d")
    assert warning is not None
    for text in ("Symantec/VeriSign", "iot:Data-ATS", "Amazon Root CA 1", "describe-endpoint"):
        assert text in warning


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com", "only the account prefix"),
        ("d4g5_321sd465d", "letters and digits"),
        ("", "letters and digits"),
    ],
)
def test_bad_prefix_is_refused(prefix: str, problem: str) -> None:
    with pytest.raises(AwsIotError, match=problem):
        endpoint_host(prefix, "eu-central-1")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com", True),
        ("D4G5D321SD465D-ATS.IOT.EU-CENTRAL-1.AMAZONAWS.COM", True),
        ("d4g5d321sd465d.iot.cn-north-1.amazonaws.com.cn", True),
        ("d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com.", True),
        # Amazon MQ (the other half of ThingPark's AWS guide) is a plain broker: no AWS IoT limits
        ("b-6a3pom65-375p-0c13-8c99-ce3zg05cp137-1.mq.eu-central-1.amazonaws.com", False),
        ("iot.eu-central-1.amazonaws.com", False),  # the control plane, not a device endpoint
        ("d4g5d321sd465d-ats.iot.eu-central-1.amazonaws.com.evil.example", False),
        ("localhost", False),
        ("127.0.0.1", False),
    ],
)
def test_is_aws_iot_host(host: str, expected: bool) -> None:
    assert is_aws_iot_host(host) is expected


@pytest.mark.parametrize("account_id", ["123456789012", 123456789012, " 123456789012 "])
def test_account_id_is_twelve_digits(account_id) -> None:
    assert check_account_id(account_id) == "123456789012"


@pytest.mark.parametrize("account_id", ["12345678901", "1234567890123", "12345678901a", "", None, True])
def test_account_id_that_is_not_twelve_digits_is_refused(account_id) -> None:
    with pytest.raises(AwsIotError, match="12 digits"):
        check_account_id(account_id)


def test_region_far_from_any_known_one_lists_the_regions() -> None:
    with pytest.raises(AwsIotError) as caught:
        check_region("moon-base-1")
    assert str(caught.value).startswith("'moon-base-1' is not an AWS IoT Core region. Known regions: us-east-1, ")
