"""``/api/node-types`` (the editor's only source for forms) and ``/api/openapi.json``."""

from __future__ import annotations

import jsonschema
import openapi_spec_validator
import pytest
import voluptuous as vol

from flowhost import keys
from flowhost.api.forms import fields_json_schema, form_fields
from flowhost.api.openapi import _operations
from tests.api.conftest import thingpark_body
from tests.api.test_auth import api_routes

BUILT_IN_PLUGINS = {"core-nodes", "lorawan-simulator", "http-nodes", "mqtt"}


async def test_every_type_is_described_with_ports_fields_and_plugin(api, runtime):
    described = await (await api.get("/api/node-types")).json()
    nodes = {entry["type"]: entry for entry in described["nodeTypes"]}
    assert set(nodes) == set(runtime.registry.node_types)
    assert nodes["filter"]["inputs"] == 1 and nodes["filter"]["outputs"] == ["out", "unmatched"]
    assert nodes["lorawan-simulator"]["inputs"] == 0 and nodes["lorawan-simulator"]["category"] == "input"
    assert nodes["debug"]["plugin"] == "core-nodes" and nodes["debug"]["outputs"] == []
    assert nodes["mqtt-connector"]["connectionFields"] == ["connection"]
    [connector] = [entry for entry in described["connectionTypes"] if entry["connectorId"] == "actility-mqtt-iot"]
    assert connector["secretFields"] == ["downlinkAsKey", "password", "privateKey"] and connector["plugin"] == "mqtt"
    assert connector["description"]


async def test_built_in_fields_are_described_precisely(api):
    described = await (await api.get("/api/node-types")).json()
    fields = {
        (entry.get("type") or entry["connectorId"], field["name"]): field
        for entry in described["nodeTypes"] + described["connectionTypes"]
        for field in entry["fields"]
    }

    def field(owner: str, name: str) -> dict:
        return {key: value for key, value in fields[(owner, name)].items() if key not in ("name", "label")}

    assert field("lorawan-simulator", "devEUIs") == {
        "type": "list",
        "items": {"type": "string", "format": "dev-eui"},
        "lengthMin": 1,
        "required": False,
    }
    assert field("lorawan-simulator", "interval") == {
        "type": "string",
        "format": "duration",
        "min": 0.001,
        "unit": "s",
        "required": False,
        "default": "10s",
    }
    assert field("lorawan-simulator", "fPort") == {
        "type": "integer",
        "min": 1,
        "max": 223,
        "required": False,
        "default": 1,
    }
    assert field("mqtt-in", "qos") == {
        "type": "select",
        "options": [[0, 0], [1, 1], [2, 2]],
        "required": False,
        "default": 1,
    }
    assert field("mqtt-in", "connection")["format"] == "connection"
    iot = "actility-mqtt-iot"
    assert field(iot, "protocol")["options"] == [["SSL", "SSL"], ["WSS", "WSS"], ["TCP", "TCP"]]
    assert field(iot, "protocol")["default"] == "SSL"
    assert field(iot, "password") == {"type": "string", "format": "password", "secret": True, "required": False}
    assert field(iot, "privateKey") == {"type": "string", "format": "pem", "secret": True, "required": False}
    assert field(iot, "trustedCaCertficate")["format"] == "pem"
    assert field(iot, "connectionTimeout") == {
        "type": "integer",
        "min": 100,
        "max": 10000,
        "unit": "ms",
        "required": False,
        "default": 5000,
    }
    assert field(iot, "hostName") == {"type": "string", "format": "host-port", "required": True}
    assert field(iot, "uplinkTopicPattern")["format"] == "topic-pattern"
    assert field(iot, "retain") == {"type": "boolean", "required": False, "default": False}
    assert field(iot, "keepAlive")["format"] == "duration"
    # every built-in field says more than "some text": a type other than string, a format, or a length bound
    vague = [
        key
        for key, value in fields.items()
        if value == {"name": key[1], "type": "string", "required": value["required"], **_default(value)}
        and key[1] not in {"username", "description", "sharedSubscriptionGroup", "clientId"}
        and key[0] in {t["type"] for t in described["nodeTypes"] if t["plugin"] in BUILT_IN_PLUGINS} | {iot}
    ]
    assert vague == [], (
        "these built-in fields would be bare text boxes in the editor: give their validator a `form` attribute "
        "(see flowhost/api/forms.py)"
    )


def _default(field: dict) -> dict:
    return {"default": field["default"]} if "default" in field else {}


def test_unknown_validators_fall_back_to_text_and_never_fail():
    class Opaque:
        def __call__(self, value):
            return value

    schema = vol.Schema(
        vol.All(
            {
                vol.Required("a"): Opaque(),
                vol.Optional("b", default=lambda: "x"): lambda v: v,
                vol.Optional("c"): vol.Any(int, str),
                vol.Optional("d"): {vol.Required("inner"): int},
                vol.Optional("e"): vol.Maybe(int),
                str: int,
            },
            lambda config: config,
        )
    )
    fields = {field["name"]: field for field in form_fields(schema)}
    assert fields["a"] == {"name": "a", "type": "string", "required": True}
    assert fields["b"]["default"] == "x"
    assert fields["c"]["type"] == "integer"
    assert fields["d"]["type"] == "mapping" and fields["d"]["fields"][0]["name"] == "inner"
    assert fields["e"] == {"name": "e", "type": "integer", "allow_none": True, "required": False}
    assert fields_json_schema(fields.values())["required"] == ["a"]


def test_a_validator_can_describe_its_own_form():
    def colour(value):
        return value

    colour.form = {"type": "string", "format": "colour"}
    assert form_fields(vol.Schema({vol.Required("c"): colour})) == [
        {"name": "c", "type": "string", "format": "colour", "required": True}
    ]


async def test_openapi_describes_every_route_with_the_connection_schema(app, api):
    described = await (await api.get("/api/openapi.json")).json()
    assert described["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, item in described["paths"].items() for method in item}
    served = {(method, path) for method, path in ((r.method, r.resource.canonical) for r in app.router.routes())}
    served = {
        (method, path)
        for method, path in served
        if (path.startswith("/api") or path == "/healthz") and method != "HEAD"
    }
    assert documented == served  # plugins' /api routes included, described by their handlers' docstrings
    assert set(_operations()) <= {f"{method} {path}" for method, path in served}
    plugin_route = described["paths"]["/api/connections/{id}/aws-policy"]["get"]
    assert plugin_route["tags"] == ["plugins"] and "AWS IoT" in plugin_route["summary"]
    body = described["components"]["schemas"]["ConnectionBody"]
    assert body["required"] == ["connectorId", "name", "configuration"]
    configurations = {item["title"]: item for item in body["properties"]["configuration"]["anyOf"]}
    assert set(configurations) == set(app[keys.RUNTIME].registry.connection_types)
    configuration = configurations["actility-mqtt-iot"]
    assert configuration["required"] == ["uplinkTopicPattern", "hostName"]
    assert configuration["properties"]["protocol"] == {"enum": ["SSL", "WSS", "TCP"], "default": "SSL"}
    assert configuration["properties"]["password"]["writeOnly"] is True
    assert configuration["properties"]["connectionTimeout"]["maximum"] == 10000
    assert api_routes(app)  # the same table the auth test walks


async def test_the_openapi_description_is_valid_and_the_thingpark_example_matches_it(api, mosquitto):
    described = await (await api.get("/api/openapi.json")).json()
    openapi_spec_validator.validate(described)
    assert described["paths"]["/healthz"]["get"]["security"] == []  # the one route without a token
    schema = {**described["components"]["schemas"]["ConnectionBody"], "components": described["components"]}
    jsonschema.validate(thingpark_body(mosquitto), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**thingpark_body(mosquitto), "connectorId": "other"}, schema)


async def test_the_connection_form_is_labelled_as_thingparks(api):
    described = await (await api.get("/api/node-types")).json()
    [mqtt] = [item for item in described["connectionTypes"] if item["connectorId"] == "actility-mqtt-iot"]
    labels = {field["name"]: field.get("label") for field in mqtt["fields"]}
    assert labels["trustedCaCertficate"] == "CA Certificate"  # not ThingPark's misspelt key
    assert [labels[key] for key in ("uplinkTopicPattern", "hostName", "privateKey")] == [
        "Uplink Topic Pattern",
        "Host Name",
        "Private Key",
    ]


async def test_a_node_type_s_help_is_its_own_docstring(api):
    described = {entry["type"]: entry for entry in (await (await api.get("/api/node-types")).json())["nodeTypes"]}
    assert described["test-emit"]["help"] == "Sends the configured payloads once, as fast as the receivers allow."
    assert described["debug"]["help"] is None  # none of its own: Node's docstring is not the debug node's help
