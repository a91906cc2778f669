"""The refusals of a workspace change, each with the HTTP status the API answers it with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..flow_yaml import FlowError


class WorkspaceError(Exception):
    """A refused change; ``errors`` are ``{"path", "message"}`` items, ``status`` the HTTP status to answer."""

    status = 400

    def __init__(self, errors: Iterable[FlowError | dict[str, Any]]) -> None:
        self.errors = [error.as_json() if isinstance(error, FlowError) else error for error in errors]
        super().__init__("; ".join(f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in self.errors))

    @classmethod
    def one(cls, message: str, path: str = "") -> WorkspaceError:
        return cls([{"path": path, "message": message}])


class Invalid(WorkspaceError):
    status = 400


class Conflict(WorkspaceError):
    status = 409


class NotFound(WorkspaceError):
    status = 404


def json_object(body: Any) -> dict[str, Any]:
    """A copy of a request body that must be a JSON object."""
    if not isinstance(body, Mapping):
        raise Invalid.one("the body must be a JSON object")
    return dict(body)
