"""The session's services as the configuration describes them: ``docker.compose_file``
or ``docker.services``, from the main checkout only, with the trust that applies.

A compose file git tracks comes from whoever committed it: until ``para trust`` its keys
that reach the host (binds outside the repository, the host's network, privileges, host
variables) are left out, as they are from a committed ``docker.services``
(``para.compose`` does the leaving out; this module says whether the source is trusted).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from para.compose import Stack, env_name, load
from para.config import LoadedConfig
from para.state import StackRef


def configured(loaded: LoadedConfig) -> bool:
    cfg = loaded.config.docker
    return bool(cfg.compose_file or cfg.services)


def load_stack(repo_root: Path, loaded: LoadedConfig, env: Mapping[str, str]) -> Stack | None:
    """The services of a new session's stack, or None when there are none."""
    cfg = loaded.config.docker
    if cfg.compose_file:
        trusted = trusted_file(repo_root, (repo_root / cfg.compose_file), env)
    elif cfg.services:
        source = loaded.sources.get("docker.services", "")
        path = Path(source)
        trusted = not path.is_absolute() or trusted_file(repo_root, path, env)
    else:
        return None
    return load(
        repo_root,
        compose_file=cfg.compose_file,
        services=cfg.services or None,
        env=env,
        trusted=trusted,
        allow_privileged=cfg.allow_privileged_services,
    )


def trusted_file(repo_root: Path, path: Path, env: Mapping[str, str]) -> bool:
    """Whether what ``path`` says may reach the host: it is the user's own (outside the
    repository, or not tracked by git) or its content is trusted."""
    try:
        path.resolve().relative_to(repo_root.resolve())
        content = path.read_bytes()
    except (ValueError, OSError):
        return True  # the user's own file; a missing compose file fails in compose.load
    from para.git import Git
    from para.trust import TrustStore

    if not Git(repo_root).is_tracked(path):
        return True
    return TrustStore(env).trusted(repo_root, path, content)


def host_variables(ref: StackRef | None) -> dict[str, str]:
    """PARA_SERVICE_* as the host sees a session's services: 127.0.0.1 and the published
    ports (the first one as PORT), from the record alone."""
    out: dict[str, str] = {}
    for name, service in (ref.services if ref else {}).items():
        key = f"PARA_SERVICE_{env_name(name)}"
        out[f"{key}_HOST"] = "127.0.0.1"
        for i, (container_port, host_port) in enumerate(service.ports.items()):
            if i == 0:
                out[f"{key}_PORT"] = str(host_port)
            out[f"{key}_PORT_{container_port}"] = str(host_port)
    return out
