"""What the channel's files hold: pydantic models of the JSON formats, and ids."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

JobState = Literal["pending", "running", "done", "interrupted"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise ValueError("must be 1-64 characters of A-Z a-z 0-9 _ -")
    return value


def new_id() -> str:
    return secrets.token_hex(6)


class Progress(_Model):
    current: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=0)
    message: str | None = Field(default=None, max_length=2000)


class Status(_Model):
    """status.json: what the session says about itself."""

    schema_version: Literal[1] = 1
    session: str | None = Field(default=None, max_length=100)
    timestamp: datetime
    state: Literal["working", "blocked", "done", "failed"] = "working"
    task: str | None = Field(default=None, max_length=2000)
    phase: str | None = Field(default=None, max_length=200)
    tests: Literal["passed", "failed", "unknown"] = "unknown"
    progress: Progress | None = None
    blocked_reason: str | None = Field(default=None, max_length=2000)
    health: str | None = Field(default=None, max_length=200)


class QueuedCommand(_Model):
    """queue/<seq>-<id>.json, written by the host."""

    schema_version: Literal[1] = 1
    id: str
    argv: list[str] = Field(min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0)
    created_at: datetime
    # The command as one POSIX shell line, base64: what the sh runner executes (it has no
    # JSON parser; base64 has no quotes or escapes to get wrong).
    command_b64: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_id(value)


class JobResult(_Model):
    """results/<id>.json, written by the runner."""

    schema_version: Literal[1] = 1
    id: str
    exit_code: int | None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    state: Literal["done", "interrupted", "timeout"] = "done"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_id(value)


class FinishRequest(_Model):
    schema_version: Literal[1] = 1
    id: str = Field(pattern=f"^{ID_PATTERN.pattern}$")
    message: str = Field(min_length=1, max_length=10_000)
    branch: str | None = Field(default=None, max_length=250)


class CancelRequest(_Model):
    schema_version: Literal[1] = 1
    id: str = Field(pattern=f"^{ID_PATTERN.pattern}$")
    force: bool = False


@dataclass
class Job:
    id: str
    state: JobState
    argv: list[str]
    exit_code: int | None
    log: str
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    timed_out: bool = False

    @property
    def ended(self) -> bool:
        return self.state in ("done", "interrupted")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "argv": self.argv,
            "log": self.log,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class Request:
    kind: Literal["finish", "cancel"]
    file: str
    body: FinishRequest | CancelRequest
