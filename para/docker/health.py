"""Is the container ready, and did something in it die for memory?

Readiness: the runner writes ``runner.json`` into the channel when it serves the queue;
a container that stops first is reported with its exit and last output. OOM: engines
set ``OOMKilled`` only when the container's main process dies, so a command killed in an
exec is found through the memory cgroup's counter, and a death without ``OOMKilled``
through the engine's event log (no kill or stop was asked for).
"""

from __future__ import annotations

import contextlib
import io
from datetime import datetime
from pathlib import Path

from para.docker.service import ContainerInfo, DockerService
from para.errors import ContainerError, ParaError
from para.poll import wait_for
from para.state import SessionRecord

READY_FILE = "runner.json"
_OOM_SCRIPT = (
    "for f in /sys/fs/cgroup/memory/memory.oom_control "
    "/sys/fs/cgroup/memory.events; do [ -r $f ] && while read k v; do "
    '[ "$k" = oom_kill ] && echo "$v"; done < $f; done; true'
)


def clear_ready(channel: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (channel / READY_FILE).unlink()


def wait_ready(
    service: DockerService, container_id: str, channel: Path, timeout: float = 60.0
) -> None:
    """Until the runner reports ready; ContainerError with the reason when it does not."""
    ready = channel / READY_FILE
    failure: list[ContainerInfo] = []

    def probe() -> bool:
        if ready.exists():
            return True
        info = service.inspect(container_id)
        if info is None or info.state in ("exited", "dead"):
            if info is not None:
                failure.append(info)
            return True
        return False

    done = wait_for(probe, timeout=timeout, interval=0.01, max_interval=0.2)
    if done and not failure:
        return
    if failure:
        info = failure[0]
        detail = info.error or f"exit code {info.exit_code}"
        if service.path_exists(container_id, "/bin/sh") is False:
            raise ContainerError(
                problem=f"the container stopped at once: the image has no /bin/sh ({detail})",
                hint="para needs a POSIX shell in the image (busybox, alpine, debian...)",
            )
        # The engine may not have the last output yet: give it a moment.
        tail = wait_for(lambda: log_tail(service, container_id), timeout=1.0) or ""
        raise ContainerError(
            problem=f"the container stopped at once ({detail})"
            + (f"; its last output:\n{tail}" if tail else ""),
            hint="check the image and the command it can run",
        )
    tail = log_tail(service, container_id)
    raise ContainerError(
        problem=f"the container's runner did not report ready within {timeout:.0f} s"
        + (f"; last output:\n{tail}" if tail else ""),
        hint="the image needs /bin/sh; see: para docker logs",
    )


def log_tail(service: DockerService, container_id: str, lines: int = 10) -> str:
    try:
        data = b"".join(service.logs(container_id, follow=False, tail=lines))
    except ParaError:
        return ""
    return data.decode(errors="replace").strip()


def oom_after_exec(
    service: DockerService, container_id: str, timeout: float = 10.0
) -> ContainerInfo | None:
    """The container, if an exec that died of SIGKILL was an out-of-memory kill.

    Two signs, polled because neither is immediate: the kernel may have picked the
    container's init, and the engine marks the container exited with OOMKilled a
    moment after the exec's stream ends; or the container lives on and its memory
    cgroup counted the kill (``oom_kills``).
    """
    verdict: list[ContainerInfo | None] = []

    def probe() -> bool:
        info = service.inspect(container_id)
        if info is None or info.oom_killed:
            verdict.append(info)
            return True
        if info.running:
            kills = oom_kills(service, container_id, timeout=0.5)
            if kills is not None:
                verdict.append(info if kills > 0 else None)
                return True
        elif info.state in ("exited", "dead"):
            verdict.append(info if died_of_memory(service, info) else None)
            return True
        return False

    wait_for(probe, timeout=timeout, interval=0.05, transient=(ParaError,))
    return verdict[0] if verdict else None


def died_of_memory(service: DockerService, info: ContainerInfo) -> bool:
    """Whether a container that is no longer running was killed for memory.

    The engine's OOMKilled is the first sign, but Podman misses it when the kernel,
    having killed the command that used the memory, kills the container's keep-alive
    in a second OOM a moment later. So a memory-limited container that died of SIGKILL
    (137) without anyone asking the engine to kill or stop it counts as killed for
    memory too: the only other sender of that SIGKILL would be a root process on the
    host.
    """
    if info.oom_killed:
        return True
    if info.running or info.exit_code != 137 or not info.memory:
        return False
    try:
        started = datetime.fromisoformat(info.started_at or "")
    except ValueError:
        return False
    return service.stopped_on_request(info.id, started.timestamp()) is False


def oom_kills(service: DockerService, container_id: str, timeout: float = 10.0) -> int | None:
    """OOM kills in the container's memory cgroup so far (None: could not tell).

    Engines set State.OOMKilled only when the main process dies; a command run with
    exec that is killed leaves it false, so para reads the cgroup's own counter.
    """
    from para.docker.execio import ExecIO

    def probe() -> list[int] | None:
        out, err = io.BytesIO(), io.BytesIO()
        code = service.exec(container_id, ["/bin/sh", "-c", _OOM_SCRIPT], ExecIO(out, err))
        counts = [int(x) for x in out.getvalue().split() if x.isdigit()]
        # Right after a kill the cgroup can still be at its limit and this small exec
        # fail too: try again until it answers. No counter file at all: 0, final.
        if code == 0:
            return counts or [0]
        return None

    counts = wait_for(probe, timeout=timeout, interval=0.05, transient=(ParaError,))
    return max(counts) if counts else None


def memory_text(size: int | None) -> str:
    if not size:
        return "none"
    for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size} bytes"


def oom_warning(service: DockerService, record: SessionRecord) -> str | None:
    """What to tell the user after a command in the session died of SIGKILL, if it was
    the memory limit."""
    assert record.container is not None
    info = oom_after_exec(service, record.container.id)
    if info is None:
        return None
    gone = "" if info.running else " (and the container with it)"
    return (
        f"the command in session {record.name!r} was killed: out of memory (limit "
        f"{memory_text(info.memory)}){gone}; raise it with para docker start "
        f"{record.name} --recreate --memory SIZE, or docker.resources.memory"
    )
