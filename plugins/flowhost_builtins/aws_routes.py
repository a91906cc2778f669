"""``GET /api/connections/{id}/aws-policy?region=&accountId=``: the least-privilege AWS IoT policy of a running
``actility-mqtt-iot`` connection, as ``flowhost aws policy`` prints it for a flow file."""

from __future__ import annotations

from aiohttp import web

from flowhost import hookimpl

from .aws_iot import AwsIotError
from .aws_policy import policy_for_connection
from .mqtt_connection import MqttIotConnection


def _error(status: int, path: str, message: str) -> web.Response:
    return web.json_response({"errors": [{"path": path, "message": message}]}, status=status)


@hookimpl
def flowhost_web_routes(view):
    async def aws_policy(request: web.Request) -> web.Response:
        """The least-privilege AWS IoT policy of a running actility-mqtt-iot connection.

        Query parameters: region (an AWS IoT Core region) and accountId (12 digits). 400 with the reason
        when they are wrong, 404 for an unknown connection."""
        connection_id = request.match_info["id"]
        connection = view.connection(connection_id)
        if connection is None:
            return _error(404, "id", f"no running connection '{connection_id}'")
        if not isinstance(connection, MqttIotConnection):
            return _error(400, "id", f"connection '{connection_id}' is not an {MqttIotConnection.connector_id} one")
        missing = [name for name in ("region", "accountId") if not request.query.get(name)]
        if missing:
            return _error(400, missing[0], f"query parameter {missing[0]} is required")
        mqtt_in_filters = [node.config["topic"] for node in view.nodes_using(connection_id) if node.type == "mqtt-in"]
        try:
            policy = policy_for_connection(
                connection.settings,
                request.query["region"],
                request.query["accountId"],
                other_subscriptions=mqtt_in_filters,
            )
        except AwsIotError as exc:
            return _error(400, "", str(exc))
        return web.json_response(policy)

    return [web.get("/api/connections/{id}/aws-policy", aws_policy)]
