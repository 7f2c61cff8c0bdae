"""The JSON API against its own OpenAPI description: schemathesis generates requests for every
operation (with an admin's token, so the writes are reached) and none may end in a server error.

Two operations are left out of the generated traffic, each tested on its own: ``POST /api/scans``
fetches (tests/console/test_workflows.py) and ``POST /api/campaigns/{name}/run`` starts a process.
Host names are never resolved here: ``socket.getaddrinfo`` answers only for 127.0.0.1, so a generated
campaign target cannot send a DNS query out of the machine.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from .support import Clock, make_console, seed

MAX_EXAMPLES = 6  # per operation: the whole API in well under a minute
_real_getaddrinfo = socket.getaddrinfo


def _loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    if str(host) not in ("127.0.0.1", "localhost"):
        raise socket.gaierror(socket.EAI_NONAME, "name resolution disabled in tests")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("openapi") / "api.sqlite3"
    url = "sqlite:///" + path.as_posix()
    seeded = seed(url, Clock().now)
    api = make_console(url, Clock())
    patch = pytest.MonkeyPatch()
    patch.setattr(socket, "getaddrinfo", _loopback_only)
    yield {"api": api, "headers": {"Authorization": f"Bearer {seeded.tokens['admin']}"}}
    patch.undo()
    api.state.console.close()


def test_no_operation_ends_in_a_server_error(state: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", state["api"])
    schema = schema.exclude(method="POST", path="/api/scans").exclude(method="POST", path="/api/campaigns/{name}/run")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=state["headers"], checks=[not_a_server_error])

        check()


def test_the_description_names_every_area_and_the_bearer_scheme(state: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    with TestClient(state["api"]) as client:
        doc = client.get("/api/openapi.json").json()
    paths = set(doc["paths"])
    assert {"/api/findings", "/api/findings/{finding_id}/review", "/api/leads/{lead_id}/assign",
            "/api/leads/{lead_id}/advance", "/api/scans", "/api/campaigns", "/api/schedules/{name}/pause",
            "/api/overview", "/api/runs", "/api/precision", "/api/feedback", "/api/notifications"} <= paths
    assert not any(p.startswith(("/review", "/leads", "/login")) for p in paths)  # pages are not in it
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
