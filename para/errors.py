"""The ParaError hierarchy: every failure para expects, with a message and a hint.

Each subclass builds its message from keyword arguments so the wording lives here, in one
place, and callers pass facts. Exit codes: 0 ok, 1 para error, 2 usage, 3 unexpected,
130 interrupted; ``docker exec`` returns the command's own code.
"""

from __future__ import annotations

from typing import IO, Any, ClassVar

import click

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130


class ParaError(click.ClickException):
    """Base of all expected failures. ``str(err)`` is the message; ``hint`` says what to do."""

    exit_code = EXIT_ERROR
    template: ClassVar[str] = "{message}"
    default_hint: ClassVar[str | None] = None

    def __init__(self, message: str | None = None, *, hint: str | None = None, **facts: Any):
        self.facts = facts
        text = message if message is not None else self.template.format(**facts)
        super().__init__(text)
        self.hint = hint if hint is not None else self._hint(**facts)

    def _hint(self, **facts: Any) -> str | None:
        return self.default_hint.format(**facts) if self.default_hint else None

    def format_message(self) -> str:
        return self.message

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.message}", file=file, err=file is None)
        if self.hint:
            click.echo(f"hint: {self.hint}", file=file, err=file is None)

    def to_json(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class NotAGitRepository(ParaError):
    template = "{path} is not inside a git repository"
    default_hint = "run para from a git checkout, or create one with: git init && git commit"


class RepositoryHasNoCommits(ParaError):
    template = "the repository at {path} has no commits yet"
    default_hint = "make a first commit (git commit --allow-empty -m init), then start sessions"


class GitError(ParaError):
    template = "git {command} failed: {stderr}"


class SessionNotFound(ParaError):
    template = "no session named {name!r}"
    default_hint = "see the sessions with: para list --archived"


class SessionExists(ParaError):
    template = "session {name!r} already exists ({reason})"
    default_hint = "pick another name, or finish/cancel the existing session first"


class InvalidName(ParaError):
    template = "invalid session name {name!r}: {reason}"
    default_hint = (
        "use 1-50 characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-' (e.g. fix-login)"
    )


class AmbiguousSession(ParaError):
    template = "{problem}"
    default_hint = "name the session explicitly, e.g. para {command} NAME"


class InvalidBranch(ParaError):
    template = "invalid branch name {branch!r}: git refuses it"
    default_hint = "pass a branch name such as feature/login to --branch"


class BareRepository(ParaError):
    template = "{path} is a bare repository: sessions need a checkout to branch from"
    default_hint = "clone it (git clone {path} DIR) and run para in the clone"


class InvalidRef(ParaError):
    template = "unknown git reference {ref!r}"
    default_hint = "pass an existing branch, tag or commit to --base (see: git branch -a)"


class BranchExists(ParaError):
    template = "branch {branch!r} already exists"
    default_hint = "choose another --branch name, or delete the branch: git branch -D {branch}"


class DirtyWorktree(ParaError):
    template = "session {name!r} has {count} uncommitted change(s)"
    default_hint = "commit or stash them, or pass --force (the work is kept on the archive branch)"


class WorktreeError(ParaError):
    """A worktree para cannot create, find or remove."""

    template = "{problem}"


class SessionStateError(ParaError):
    """The session is not in a state that allows what was asked."""

    template = "session {name!r} is {state}"


class NothingToRecover(ParaError):
    template = "branch {branch} of session {name!r} no longer exists"
    default_hint = "nothing left to recover from"


class EmptyMessage(ParaError):
    template = "the commit message is empty"
    default_hint = 'para finish "what this session did"'


class MissingCommand(ParaError):
    """A configured command that an action needs is not set."""

    template = "no {key} is set: {purpose} needs one"


class _WithOutput(ParaError):
    """An error that ends with the last lines of some output (fact ``output``), after
    ``lead`` when there are any."""

    lead: ClassVar[str] = ":\n"

    def __init__(self, message: str | None = None, *, hint: str | None = None, **facts: Any):
        tail = facts.get("output") or ""
        facts["output"] = f"{self.lead}{tail}" if tail and not tail.startswith(self.lead) else tail
        super().__init__(message, hint=hint, **facts)


class CommandFailed(_WithOutput):
    """A command para ran for the user (setup, IDE) failed."""

    template = "{what} {command!r} failed with exit code {code}{output}"


class CommandTimedOut(_WithOutput):
    """A command para ran for the user did not finish in its time and was killed."""

    template = "{what} {command!r} was stopped after {seconds:g}s{output}"


class SyncConflict(ParaError):
    template = "session {name!r} cannot be finished: {detail}"
    default_hint = (
        "compare: git log --oneline --left-right {branch}...{ref}; in the worktree, take the "
        "container's side (git reset --hard {ref}) or merge it (git merge {ref}, removing "
        "first the files it would overwrite: they are the container's), then finish again"
    )


class EngineUnavailable(ParaError):
    template = "{backend} engine not reachable at {endpoint}: {reason}"
    default_hint = (
        "is it running? Start it (make engines, or: sudo dockerd / podman system service), "
        "or point para at it with DOCKER_HOST, docker context use, docker.host or --backend"
    )


class ImageNotFound(ParaError):
    template = "image {image!r} not found: {reason}"
    default_hint = (
        "check the name and tag, build or load it locally (docker images), "
        "or set docker.default_image / --image"
    )


class RegistryUnreachable(ImageNotFound):
    template = "image {image!r} is not here, and its registry could not be reached: {reason}"
    default_hint = (
        "offline? load or build the image here (docker load, podman load, docker build), "
        "or choose one this engine has: --image or docker.image"
    )


class BuildFailed(ParaError):
    """The engine could not build an image from the repository's Dockerfile."""

    template = "building {image} failed{step}: {reason}{tail}"
    default_hint = "the whole build log is {log}; fix the Dockerfile or context, then start again"

    def __init__(self, message: str | None = None, *, hint: str | None = None, **facts: Any):
        step, tail = facts.get("step"), facts.get("tail") or ""
        facts["step"] = f" at {step}" if step else ""
        facts["tail"] = f"\n{tail}" if tail and not tail.startswith("\n") else tail
        super().__init__(message, hint=hint, **facts)


class BuildInputError(ParaError):
    """What a build needs is missing or not the repository's: the context, the Dockerfile."""

    template = "cannot build {image}: {problem}"
    default_hint = (
        "docker.build's context and dockerfile (or devcontainer.json's build) name paths "
        "inside the repository, relative to its root (see docs/containers.md)"
    )


class ServiceFailed(_WithOutput):
    """A service of a session's stack exited, or did not get ready in time."""

    template = "service {service!r} of session {session!r} {reason}{output}"
    default_hint = (
        "see its configuration (docker.compose_file or docker.services); the start was "
        "undone. docker.services_timeout bounds the wait"
    )
    lead = "; its last output:\n"


class ContainerNotFound(ParaError):
    template = "session {name!r} has no container"
    default_hint = "give it one with: para docker start {name}"


class ContainerAlreadyRunning(ParaError):
    template = "the container of session {name!r} is already running"


class ContainerError(ParaError):
    template = "{problem}"


class ResourceLimitExceeded(ParaError):
    template = "the engine refused the limit {limit}: {reason}"
    default_hint = "pick a value the machine can give (see docs/containers.md, Limits)"


class UnsafeMount(ParaError):
    template = "refusing volume {volume!r}: {reason}"
    default_hint = "mount a directory of your own that exists, read-only (:ro) when possible"


class PortInUse(ParaError):
    template = "host port {port} is already in use"
    default_hint = "pick another host port, or let para choose one: --port {container_port}"


class StateLocked(ParaError):
    template = "another para process holds the lock {path} (waited {seconds:.0f} s)"
    default_hint = (
        "wait for it to finish, or find it with: fuser {path} (the lock ends with the "
        "process that holds it; deleting the file does not help)"
    )


class StateError(ParaError):
    template = "{problem}"


class ConfigError(ParaError):
    template = "invalid configuration:\n{lines}"
    default_hint = "fix the keys above (see docs/config.md and .para.example/)"


class InvalidOption(ParaError):
    template = "invalid option {lines}"
    default_hint = "see the command's --help for what each option takes"


class StorageError(ParaError):
    """The machine refused a write: a full disk, a read-only file system, permissions."""

    template = "cannot write {path}: {cause}"
    default_hint = (
        "make room or fix the file system, then run the command again (what it did so far "
        "is kept consistent: a start is undone, a finish or cancel completes when run again)"
    )


class ChannelError(ParaError):
    template = "{problem}"


class NotATerminal(ParaError):
    template = "{what} needs a terminal (its input and output are not one here)"
    default_hint = "para list shows the same in plain text (para list --json for scripts)"


class Interrupted(ParaError):
    exit_code = EXIT_INTERRUPTED
    template = "interrupted"


class UnexpectedError(ParaError):
    exit_code = EXIT_UNEXPECTED
    template = "unexpected error: {error}"


def validation_lines(errors: list[Any], source: str | None = None) -> list[str]:
    """``loc: message`` lines of a pydantic ValidationError's ``errors()`` (the one
    formatter for config files, records, channel files and reports)."""
    lines = []
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        line = f"{loc}: {validation_message(err)}"
        lines.append(f"{source}: {line}" if source else line)
    return lines


def validation_message(error: Any) -> str:
    """One pydantic error's message, without pydantic's "Value error, " prefix."""
    return str(error["msg"]).removeprefix("Value error, ")
