"""Property: whatever body a client sends to whichever route, the answer is never a 5xx.

Hypothesis builds bodies from plausible ThingPark connections and flows with any JSON value swapped in anywhere,
plus arbitrary JSON and bytes; the runtime keeps the state the earlier examples left, so conflicts, stale revs
and deletes of things in use are explored too.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
ids = st.sampled_from(["a", "b", "broker", "flow-1", "test-aws-mq-mqtt-ssl-connection"]) | st.text(max_size=10)


def maybe(value_strategy):
    """A plausible value, or any JSON value in its place."""
    return st.one_of(value_strategy, value_strategy, value_strategy, json_values)


configurations = st.fixed_dictionaries(
    {
        "uplinkTopicPattern": maybe(st.sampled_from(["mqtt/things/{DevEUI}/uplink", "{DevEUI", "a/{{ x }}/b"])),
        "hostName": maybe(st.sampled_from(["127.0.0.1:1", "[::1]:1", "mqtt://x", "127.0.0.1:99999"])),
    },
    optional={
        "protocol": maybe(st.sampled_from(["TCP", "SSL", "WSS", "tcp", "MQTT"])),
        "downlinkTopicPattern": maybe(
            st.sampled_from(["mqtt/things/{DevEUI}/downlink", "mqtt/things/{DevEUI}/uplink"])
        ),
        "password": maybe(st.sampled_from(["pw", "********"])),
        "privateKey": maybe(st.sampled_from(["-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"])),
        "connectionTimeout": maybe(st.integers(0, 20000)),
        "uplinkTimeValidity": maybe(st.sampled_from(["10m", "0s", "x"])),
        "keepAlive": maybe(st.sampled_from(["60s", "-1s"])),
        "unknownKey": json_values,
    },
)
connection_bodies = st.fixed_dictionaries(
    {"connectorId": maybe(st.just("actility-mqtt-iot")), "configuration": maybe(configurations)},
    optional={"id": maybe(ids), "name": maybe(st.text(max_size=20)), "active": maybe(st.just(False))},
)
node_types = st.sampled_from(
    ["debug", "filter", "mqtt-connector", "mqtt-in", "http-uplink", "http-downlink", "test-collect", "nope"]
)
nodes = st.fixed_dictionaries(
    {"id": maybe(ids), "type": maybe(node_types)},
    optional={
        "config": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "connection": ids,
                    "fPorts": maybe(st.lists(st.integers(-1, 300), max_size=2)),
                    "path": maybe(st.sampled_from(["/in", "/api/x", "in"])),
                    "topic": maybe(st.sampled_from(["a/#", "a/#/b", ""])),
                    "url": maybe(st.sampled_from(["http://127.0.0.1:1/", "ftp://x"])),
                },
            )
        ),
        "wires": maybe(
            st.dictionaries(st.sampled_from(["out", "unmatched", "downlink", "x"]), st.lists(ids, max_size=2))
        ),
        "name": json_values,
    },
)
flow_bodies = st.fixed_dictionaries(
    {"flowhost": maybe(st.just(1)), "id": maybe(ids)},
    optional={
        "rev": maybe(st.text(max_size=16)),
        "label": maybe(st.text(max_size=10)),
        "nodes": maybe(st.lists(nodes, max_size=3)),
        "connections": maybe(st.lists(connection_bodies, max_size=2)),
        "layout": maybe(st.dictionaries(ids, st.fixed_dictionaries({"x": maybe(st.integers()), "y": st.integers()}))),
    },
)
requests = st.one_of(
    st.tuples(st.just("POST"), st.just("/api/connections"), connection_bodies),
    st.tuples(st.just("PUT"), ids.map(lambda i: f"/api/connections/{quote(i, safe='')}"), connection_bodies),
    st.tuples(st.just("DELETE"), ids.map(lambda i: f"/api/connections/{quote(i, safe='')}"), st.none()),
    st.tuples(st.just("POST"), st.just("/api/flows"), flow_bodies),
    st.tuples(st.just("POST"), st.just("/api/flows/validate"), flow_bodies),
    st.tuples(st.just("PUT"), ids.map(lambda i: f"/api/flows/{quote(i, safe='')}"), flow_bodies),
    st.tuples(st.just("POST"), ids.map(lambda i: f"/api/flows/{quote(i, safe='')}/validate"), flow_bodies),
    st.tuples(st.just("DELETE"), ids.map(lambda i: f"/api/flows/{quote(i, safe='')}"), st.none()),
    st.tuples(st.just("POST"), st.just("/api/flows/import"), st.text(max_size=80)),
    st.tuples(st.sampled_from(["POST", "PUT"]), st.sampled_from(["/api/connections", "/api/flows"]), json_values),
    st.tuples(st.just("POST"), st.just("/api/connections"), st.binary(max_size=20)),
    st.tuples(  # nested up to orjson's own limit (1024): deeper than Python's recursion allows validation
        st.sampled_from(["POST", "PUT"]),
        st.sampled_from(["/api/connections", "/api/flows", "/api/flows/validate", "/api/flows/a", "/api/flows/import"]),
        st.integers(1, 1023).map(lambda depth: b'{"id": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"),
    ),
    st.tuples(
        st.sampled_from(["GET", "HEAD"]),
        st.builds(
            lambda template, i: template.format(quote(i, safe="")),
            st.sampled_from(
                ["/api/connections/{}", "/api/flows/{}", "/api/flows/{}/yaml", "/api/flows/{}/status", "/api/{}"]
            ),
            ids,
        ),
        st.none(),
    ),
)


@pytest.mark.expect_node_errors
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests)
async def test_no_request_gets_a_server_error(api, request):
    method, path, body = request
    if isinstance(body, bytes | str):
        data = body.encode() if isinstance(body, str) else body
    else:
        data = (
            None if body is None and method in ("DELETE", "GET", "HEAD") else json.dumps(body)
        )  # orjson refuses big ints
    response = await api.request(method, path, data=data, headers={"Content-Type": "application/json"})
    text = await response.text()
    assert response.status < 500, (method, path, body, text)
    if response.status >= 400 and method != "HEAD":
        assert orjson.loads(text)["errors"], text
    for listing in ("/api/connections", "/api/flows"):
        assert (await api.get(listing)).status == 200
