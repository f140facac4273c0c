"""`sagsflow dev`'s Temporal server: the real `temporal server start-dev`, not the test server.

One DevServer (with Web UI) is shared by the module; the restart and stop tests start their
own, headless where the UI does not matter, to keep the file fast.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus

from core.devserver import DevServer, PortInUseError
from driver.net import free_port
from tests.conftest import binary
from workflows import search_attributes

TEMPORAL = binary("temporal")


def dev_server(data_dir: Path, **options: Any) -> DevServer:
    """A DevServer on free ports (any of them can be overridden)."""
    options.setdefault("port", free_port())
    options.setdefault("ui_port", free_port())
    return DevServer(data_dir, binary=TEMPORAL, **options)


async def custom_search_attributes(client: Client) -> dict[str, int]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return dict(listed.custom_attributes)


def assert_process_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing left in its process group either


# Module scope on the session's event loop (pyproject sets it): one server for these tests.
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    async with dev_server(tmp_path_factory.mktemp("dev")) as started:
        yield started


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("which", ["port", "ui_port"])
async def test_a_taken_port_fails_fast_and_names_the_port(
    tmp_path: Path, taken_port: int, which: str
) -> None:
    server = dev_server(tmp_path, **{which: taken_port})
    began = time.monotonic()
    with pytest.raises(PortInUseError) as failure:
        await server.start()
    assert time.monotonic() - began < 1
    assert failure.value.port == taken_port
    option = "--" + which.replace("_", "-")
    assert f"Port {taken_port}" in str(failure.value)
    assert option in str(failure.value)
    assert "allerede i brug" in str(failure.value) and "already in use" in str(failure.value)
    assert server.pid is None  # nothing was started


@pytest.mark.slow
async def test_the_web_ui_answers(server: DevServer) -> None:
    assert server.ui_url == f"http://127.0.0.1:{server.ui_port}"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no http_proxy
    response = await asyncio.to_thread(direct.open, server.ui_url, timeout=5)
    with response:
        assert response.status == 200


@pytest.mark.slow
async def test_the_case_search_attributes_are_registered(server: DevServer) -> None:
    registered = await custom_search_attributes(await server.connect())
    expected = {
        key.name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}")
        for key in search_attributes.ALL
    }
    assert {name: registered.get(name) for name in expected} == expected


@pytest.mark.slow
async def test_cases_survive_a_restart_and_old_databases_get_our_search_attributes(
    tmp_path: Path,
) -> None:
    workflow_id = f"restart-{uuid.uuid4().hex[:8]}"
    # First run: a database made without our search attributes (like one from an older run).
    async with dev_server(tmp_path, headless=True, search_attributes=[]) as first:
        client = await first.connect()
        assert "CasePhase" not in await custom_search_attributes(client)
        # No worker polls "nobody": the workflow simply stays RUNNING.
        await client.start_workflow("NoSuchWorkflow", id=workflow_id, task_queue="nobody")
        first_pid = first.pid
    assert first_pid is not None
    assert_process_gone(first_pid)

    async with dev_server(tmp_path, headless=True) as second:
        client = await second.connect()
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.workflow_type == "NoSuchWorkflow"
        registered = await custom_search_attributes(client)
        assert {key.name for key in search_attributes.ALL} <= set(registered)


@pytest.mark.slow
async def test_a_stopped_server_leaves_no_process_behind(tmp_path: Path) -> None:
    async with dev_server(tmp_path, headless=True) as started:
        pid = started.pid
        assert pid is not None and started.running
        os.kill(pid, 0)  # alive while entered
    assert not started.running
    assert_process_gone(pid)


@pytest.mark.slow
async def test_a_server_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    started = dev_server(tmp_path, headless=True, stop_timeout=1)
    await started.start()
    pid = started.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM; SIGKILL still works
    began = time.monotonic()
    await started.stop()
    assert 1 <= time.monotonic() - began < 5
    assert_process_gone(pid)


def test_the_command_line_has_every_flag(tmp_path: Path) -> None:
    server = DevServer(
        tmp_path,
        port=7300,
        ui_port=7301,
        codec_endpoint="http://127.0.0.1:8000/codec",
        binary=TEMPORAL,
    )
    command = server.command()
    assert command[:3] == [TEMPORAL, "server", "start-dev"]
    flags = dict(zip(command[3:], command[4:], strict=False))  # each arg -> the next one
    assert flags["--db-filename"] == str(tmp_path.resolve() / "temporal.db")
    assert flags["--ip"] == "127.0.0.1"
    assert flags["--port"] == "7300" and flags["--ui-port"] == "7301"
    assert flags["--namespace"] == "default"
    assert flags["--ui-codec-endpoint"] == "http://127.0.0.1:8000/codec"
    assert "--ui-disable-news-fetch" in command and "--headless" not in command
    attributes = [command[i + 1] for i, arg in enumerate(command) if arg == "--search-attribute"]
    assert attributes == [
        "CaseNumber=Keyword",
        "SchoolId=Keyword",
        "CasePhase=Keyword",
        "CaseStatus=Keyword",
        "CaseRoute=Keyword",
        "CaseSeverity=Keyword",
        "OpenTaskCount=Int",
        "NextDeadline=Datetime",
        "HasOverdueTask=Bool",
    ]
    headless = DevServer(tmp_path, headless=True, binary=TEMPORAL).command()
    assert "--headless" in headless and "--ui-port" not in headless
