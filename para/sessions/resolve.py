"""Which session a command means: the name rule (docs/cli.md).

NAME when given; else the session whose worktree holds the current directory; else the
only candidate (the only active session, for most commands); otherwise an error listing
the candidates. ``choose`` is the rule itself, on plain values: the ``docker exec`` fast
path uses it on records read as JSON, without click or pydantic.
"""

from __future__ import annotations

from pathlib import Path

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from para.sessions.context import SessionContext


def session_at(path: Path, worktrees: Mapping[str, str]) -> str | None:
    """The session (name -> worktree path) whose worktree contains ``path``."""
    for name, worktree in worktrees.items():
        if not worktree:
            continue
        try:
            path.relative_to(worktree)
        except ValueError:
            continue
        return name
    return None


def choose(name: str | None, here: str | None, candidates: Sequence[str]) -> str | None:
    """The rule: ``name``, else ``here``, else the only candidate; None when ambiguous."""
    if name:
        return name
    if here:
        return here
    if len(candidates) == 1:
        return candidates[0]
    return None


def resolve(
    ctx: SessionContext,
    name: str | None,
    *,
    command: str,
    statuses: Sequence[str] = ("active",),
    cwd: Path | None = None,
) -> str:
    """The session meant, or SessionNotFound/AmbiguousSession listing the candidates."""
    if name:
        return name
    records, _bad = ctx.store.load_all()
    here = session_at((cwd or Path.cwd()).resolve(), {r.name: r.worktree for r in records})
    candidates = sorted(r.name for r in records if r.status in statuses)
    chosen = choose(None, here, candidates)
    if chosen is not None:
        return chosen
    from para.errors import AmbiguousSession, SessionNotFound

    wanted = "/".join(statuses)
    if not candidates:
        raise SessionNotFound(
            f"no {wanted} session to {command}",
            hint="start one with: para start NAME"
            if "active" in statuses
            else "see all sessions with: para list --archived",
        )
    raise AmbiguousSession(
        problem=f"{len(candidates)} {wanted} sessions, which one? {', '.join(candidates)}",
        command=command,
    )
