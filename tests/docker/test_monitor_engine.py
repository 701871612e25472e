"""The monitor with real containers: container state and reported status in the rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from para.docker.service import DockerService
from para.monitor.app import MonitorApp
from tests.conftest import Para
from tests.docker.conftest import BUSYBOX
from tests.monitor.test_monitor import run_monitor, table_rows

pytestmark = pytest.mark.engine


def test_monitor_shows_container_sessions(repo: Path, para: Para, engine: DockerService) -> None:
    para("start", "boxed", "--docker", "--image", BUSYBOX)
    para("start", "plain")
    para(
        "docker", "exec", "boxed", "--", "para-status", "--task", "inside work", "--tests", "passed"
    )

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        rows = table_rows(app)
        assert rows["boxed"][2].startswith("running")
        assert rows["boxed"][3] == "inside work"
        assert rows["boxed"][4] == "passed"
        assert rows["plain"][2] == "-"

    run_monitor(repo, script, watch_requests=False)
