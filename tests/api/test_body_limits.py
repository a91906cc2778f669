"""Bodies the API reads are bounded: nesting too deep for the flow document's recursive walks is a 400."""

from __future__ import annotations


async def test_json_bodies_nested_too_deep_are_refused_not_a_server_error(api):
    deep = '{"flowhost": 1, "id": "deep", "description": ' + "[" * 1000 + "]" * 1000 + "}"
    for path in ("/api/flows/validate", "/api/flows"):
        response = await api.post(path, data=deep, headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert await response.json() == {
            "errors": [{"path": "", "message": "the body is nested deeper than 64 levels of arrays and objects"}]
        }
    shallow = '{"flowhost": 1, "id": "deep", "description": ' + "[" * 60 + "]" * 60 + "}"
    response = await api.post("/api/flows/validate", data=shallow, headers={"Content-Type": "application/json"})
    assert (await response.json())["errors"][0] == {"path": "description", "message": "expected str"}
