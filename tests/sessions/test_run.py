"""Commands in a session: the job-id rule and detached commands need a container."""

from __future__ import annotations

import pytest

from para.channel.channel import Channel
from para.errors import ContainerNotFound
from para.sessions.context import SessionContext
from para.sessions.run import detach, jobs_session, list_jobs
from para.sessions.start import start_session


def test_a_lone_job_id_is_the_job(ctx: SessionContext) -> None:
    start_session(ctx, "only")
    assert jobs_session(ctx, "only", None) == ("only", None)
    assert jobs_session(ctx, "abc123", None) == ("only", "abc123")


def test_detach_needs_a_container(ctx: SessionContext) -> None:
    record = start_session(ctx, "host")
    with pytest.raises(ContainerNotFound):
        detach(ctx, record, ["true"], env={}, workdir=None, timeout=None)


def test_list_jobs_of_a_host_session(ctx: SessionContext) -> None:
    record = start_session(ctx, "h")
    channel: Channel = ctx.channel("h")
    job = channel.queue.enqueue(["true"])
    [listed] = list_jobs(ctx, record, wait=False)
    assert (listed.id, listed.state) == (job.id, "pending")
