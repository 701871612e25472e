"""Trust for the configuration a repository brings (the pattern of ``direnv allow``).

A cloned repository's committed ``.para/config.json`` and ``.para/docker.json``, its
devcontainer.json and the compose file its configuration names could run code on the
host or widen what a container may touch. Those keys apply only once the user has run
``para trust``, which records the files' content hashes in the user's state directory;
any change needs trust again. Keys that only narrow access, and files git does not track
(the user's own), need no trust; neither does the user's config file, the environment or
a flag.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from para.errors import ParaError

# The keys that run code on the host or widen a container's access, as dotted paths of a
# config.json layer; a docker.json layer is the ``docker`` section.
GATED = (
    "setup_command",
    "ide.command",
    "agent.command",
    "worktrees_dir",  # only when outside the repository
    "docker.volumes",
    "docker.allow_volumes",
    "docker.network.mode",  # only "host"
    "docker.user",
    "docker.forward_env",
    "docker.host",
    "docker.resources",  # only null, or a limit set to null
    "docker.environment.PATH",
)


# Keys a committed file may never set, trusted or not: the user decides them alone.
USER_ONLY = ("docker.allow_privileged_services",)


def user_only_keys(repo_root: Path, path: Path, layer: Mapping[str, Any]) -> list[str]:
    """The keys of a config.json-shaped ``layer`` from ``path`` that only the user's own
    configuration may set: all of them when git tracks the file."""
    found = [key for key in USER_ONLY if _lookup(layer, key)[0]]
    if not found:
        return []
    from para.git import Git

    return found if Git(repo_root).is_tracked(path) else []


def gated_keys(layer: Mapping[str, Any], repo_root: Path) -> list[str]:
    """The keys of a config.json-shaped ``layer`` that need trust."""
    found = []
    for key in GATED:
        present, value = _lookup(layer, key)
        if not present:
            continue
        if key == "worktrees_dir" and _inside(repo_root, str(value)):
            continue
        if key == "docker.network.mode" and value != "host":
            continue
        if key == "docker.resources" and value is not None and None not in dict(value).values():
            continue
        found.append(key)
    return found


def without(layer: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
    """A copy of ``layer`` without ``keys`` (dotted paths)."""
    out = copy.deepcopy(dict(layer))
    for key in keys:
        *parents, last = key.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def _lookup(layer: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = layer
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _inside(root: Path, value: str) -> bool:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else root / path
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TrustStore:
    """What the user trusted: ``$XDG_STATE_HOME/para/trust.json``, by repository root
    and file, the sha256 of the content trusted."""

    def __init__(self, env: Mapping[str, str]):
        base = env.get("XDG_STATE_HOME") or str(
            Path(env.get("HOME") or str(Path.home())) / ".local" / "state"
        )
        self.path = Path(base) / "para" / "trust.json"

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def trusted(self, root: Path, file: Path, content: bytes) -> bool:
        files = self._load().get(str(root), {})
        return isinstance(files, dict) and files.get(str(file)) == digest(content)

    def of(self, root: Path) -> dict[str, str]:
        files = self._load().get(str(root), {})
        return dict(files) if isinstance(files, dict) else {}

    def set(self, root: Path, files: dict[str, str] | None) -> None:
        """Record ``files`` (path -> digest) as the trusted configuration of ``root``;
        None forgets the repository."""
        from para.state import write_atomic

        data = self._load()
        if files is None:
            data.pop(str(root), None)
        else:
            data[str(root)] = files
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(
            self.path, json.dumps(data, indent=2, sort_keys=True).encode() + b"\n", mode=0o600
        )


def repository_files(repo_root: Path, env: Mapping[str, str] | None = None) -> list[Path]:
    """The files of the main checkout that can configure para (when git tracks them):
    para's own, the devcontainer.json, and the compose file the configuration names."""
    from para.devcontainer import find

    found = [repo_root / ".para" / "config.json", repo_root / ".para" / "docker.json"]
    devcontainer = find(repo_root)
    if devcontainer:
        found.append(devcontainer)
    compose = _compose_file(repo_root, env or {})
    if compose is not None:
        found.append(compose)
    return found


def _compose_file(repo_root: Path, env: Mapping[str, str]) -> Path | None:
    from para.config import load_config

    try:
        name = load_config(repo_root, env=env).config.docker.compose_file
    except ParaError:
        return None
    return Path(os.path.normpath(repo_root / name)) if name else None


def review(repo_root: Path, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each repository-supplied configuration file: whether git tracks it, the keys of
    it that wait for trust, and whether its current content is the one trusted."""
    from para.git import Git

    git = Git(repo_root)
    store = TrustStore(env)
    recorded = store.of(repo_root)
    out = []
    for path in repository_files(repo_root, env):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        keys = _gated_in(repo_root, path, content, env)
        tracked = git.is_tracked(path)
        out.append(
            {
                "file": str(path),
                "tracked": tracked,
                "keys": keys,
                "trusted": (not tracked) or recorded.get(str(path)) == digest(content),
                "changed": tracked
                and str(path) in recorded
                and recorded[str(path)] != digest(content),
                "sha256": digest(content),
            }
        )
    return out


def _gated_in(repo_root: Path, path: Path, content: bytes, env: Mapping[str, str]) -> list[str]:
    from para import devcontainer

    if path == devcontainer.find(repo_root):
        try:
            found = devcontainer.load(repo_root, env)
        except ParaError:
            return []
        return [f"docker.{key}" for key in found.gated] if found else []
    if path.parent != repo_root / ".para":
        rel = path.relative_to(repo_root).as_posix()
        return _services_gated(repo_root, env, compose_file=rel)
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return []
    if not isinstance(data, dict):
        return []
    layer = {"docker": data} if path.name == "docker.json" else data
    services = (layer.get("docker") or {}).get("services")
    extra = _services_gated(repo_root, env, services=services) if services else []
    return [*gated_keys(layer, repo_root), *(f"docker.services: {key}" for key in extra)]


def _services_gated(
    repo_root: Path,
    env: Mapping[str, str],
    *,
    compose_file: str | None = None,
    services: Any = None,
) -> list[str]:
    """What of a stack's services waits for trust (``para.compose`` says)."""
    from para import compose

    try:
        stack = compose.load(
            repo_root,
            compose_file=compose_file,
            services=services if isinstance(services, dict) else None,
            env=env,
            trusted=False,
            allow_privileged=True,
        )
    except ParaError as exc:
        # e.g. ${VAR:?...} that only the host's value satisfies: trust is what it waits for
        return [f"(untrusted it does not load: {exc.message.splitlines()[-1].strip()})"]
    return list(stack.ignored) if stack else []


def grant(repo_root: Path, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Trust the repository's configuration files as they are now."""
    files = review(repo_root, env)
    TrustStore(env).set(repo_root, {f["file"]: f["sha256"] for f in files if f["tracked"]})
    return review(repo_root, env)


def revoke(repo_root: Path, env: Mapping[str, str]) -> None:
    TrustStore(env).set(repo_root, None)


def untrusted_keys(
    repo_root: Path,
    path: Path,
    layer: dict[str, Any],
    env: Mapping[str, str],
    gated: list[str] | None = None,
) -> list[str]:
    """The keys of a project file that wait for ``para trust`` (``gated``, or the usual
    ones): none when the file is the user's own (git does not track it) or its content
    is trusted."""
    gated = gated_keys(layer, repo_root) if gated is None else gated
    if not gated:
        return []
    from para.git import Git

    if not Git(repo_root).is_tracked(path):
        return []
    if TrustStore(env).trusted(repo_root, path, path.read_bytes()):
        return []
    return gated
