"""A session's stack from a compose file or docker.services: the forms compose allows,
interpolation, what waits for trust or for docker.allow_privileged_services, the start
order, and the variables that tell a session where its services are."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from para import compose
from para.compose import Healthcheck, Service, Stack, VolumeMount
from para.errors import ConfigError

REALISTIC = """
name: shop
x-common: &common
  restart: unless-stopped
services:
  web:
    <<: *common
    build:
      context: .
      dockerfile: docker/web.Dockerfile
      args: [PYTHON=3.12]
    command: gunicorn app:wsgi --bind "0.0.0.0:8000"
    ports: ["8000:8000", "127.0.0.1:9229:9229"]
    environment:
      REDIS_URL: redis://redis:6379/0
      DEBUG: true
      WORKERS: 4
    volumes: ["./src:/app/src:ro", "uploads:/app/uploads"]
    working_dir: /app
    depends_on:
      redis: {condition: service_healthy}
      worker: {condition: service_started}
  worker:
    image: shop-worker:1
    entrypoint: ["python", "-m", "worker"]
    depends_on: [redis]
    labels: ["team=shop", "tier"]
  redis:
    image: redis:7
    expose: ["6379"]
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1m30s
      timeout: 500ms
      retries: 5
      start_period: 2h
volumes:
  data:
  uploads:
"""


def write(root: Path, text: str, name: str = "compose.yaml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(
    root: Path,
    text: str | None = None,
    *,
    name: str = "compose.yaml",
    services: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    trusted: bool = True,
    allow: bool = False,
) -> Stack:
    if text is not None:
        write(root, text, name)
    found = compose.load(
        root,
        compose_file=name if text is not None else None,
        services=services,
        env=env or {},
        trusted=trusted,
        allow_privileged=allow,
    )
    assert found is not None
    return found


def error(root: Path, text: str | None = None, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as err:
        load(root, text, **kwargs)
    return err.value.message


def one(root: Path, spec: str, **kwargs: Any) -> Service:
    """The service ``web`` of a file that has only it (``spec``: its keys, as YAML)."""
    body = textwrap.indent(textwrap.dedent(spec), "    ")
    return load(root, f"services:\n  web:\n{body}", **kwargs).services["web"]


def test_a_realistic_file(tmp_path: Path) -> None:
    stack = load(tmp_path, REALISTIC)
    assert list(stack.services) == ["redis", "worker", "web"]
    assert stack.source == tmp_path / "compose.yaml"
    assert stack.volumes == ["data", "uploads"]
    assert (stack.unsupported, stack.ignored, stack.refused) == ([], [], [])
    web, worker, redis = stack.services["web"], stack.services["worker"], stack.services["redis"]
    assert web.image is None
    assert web.build == {
        "context": ".",
        "dockerfile": "docker/web.Dockerfile",
        "args": {"PYTHON": "3.12"},
        "name": "web",
    }
    assert web.command == ["gunicorn", "app:wsgi", "--bind", "0.0.0.0:8000"]
    assert web.ports == [8000, 9229]
    assert web.environment == {"REDIS_URL": "redis://redis:6379/0", "DEBUG": "true", "WORKERS": "4"}
    assert web.volumes == [
        VolumeMount("bind", str(tmp_path / "src"), "/app/src", read_only=True),
        VolumeMount("volume", "uploads", "/app/uploads"),
    ]
    assert web.working_dir == "/app"
    assert web.depends_on == {"redis": "service_healthy", "worker": "service_started"}
    assert worker.entrypoint == ["python", "-m", "worker"]
    assert worker.depends_on == {"redis": "service_started"}
    assert worker.labels == {"team": "shop", "tier": ""}
    assert redis.expose == [6379]
    assert redis.healthcheck == Healthcheck(
        test=["redis-cli", "ping"], interval=90.0, timeout=0.5, retries=5, start_period=7200.0
    )


def test_the_start_order_keeps_the_file_s_order_where_it_is_free(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        services={
            "a": {"image": "x"},
            "b": {"image": "x", "depends_on": ["c"]},
            "c": {"image": "x"},
            "d": {"image": "x", "depends_on": ["a"]},
        },
    )
    assert list(stack.services) == ["a", "c", "b", "d"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('"8080:80"', [80]),
        ("22:22", [22]),  # YAML 1.1 would read 1342; compose reads a mapping
        ('"127.0.0.1:8080:80"', [80]),
        ('"[::1]:9000:90"', [90]),
        ('"80"', [80]),
        ("80", [80]),
        ('"8000-8002"', [8000, 8001, 8002]),
        ('"9000-9001:8000-8001"', [8000, 8001]),
        ('"3000/tcp"', [3000]),
        ("{target: 5432, published: 15432, protocol: tcp}", [5432]),
    ],
)
def test_port_forms(tmp_path: Path, entry: str, expected: list[int]) -> None:
    assert one(tmp_path, f"image: x\nports:\n  - {entry}\n").ports == expected


def test_udp_ports_are_named_and_left_out(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        services={
            "db": {
                "image": "x",
                "ports": ["53:53/udp", "80", {"target": 67, "protocol": "udp"}],
                "expose": ["7/udp", 9],
            }
        },
    )
    assert stack.services["db"].ports == [80]
    assert stack.services["db"].expose == [9]
    assert stack.unsupported == ["db: ports 53:53/udp", "db: ports 67/udp", "db: expose 7/udp"]


@pytest.mark.parametrize("entry", ['"http"', '"0"', '"70000"', '"1-5000"', "[80]", "true"])
def test_a_bad_port_is_a_config_error(tmp_path: Path, entry: str) -> None:
    assert "web: ports" in error(
        tmp_path, f"services:\n  web:\n    image: x\n    ports: [{entry}]\n"
    )


def test_volume_forms(tmp_path: Path) -> None:
    spec = """\
        image: x
        volumes:
          - data:/var/lib/data:ro
          - ./src:/src:rw
          - ../shared:/shared:ro,cached
          - /cache
          - ~/.npm:/npm
          - type: bind
            source: ./conf
            target: /etc/conf/
            read_only: true
          - {type: volume, source: logs, target: /logs}
          - {type: volume, target: /scratch}
          - {type: tmpfs, target: /run, tmpfs: {size: 65536}}
        tmpfs: /tmp
    """
    service = one(tmp_path, spec, name="deploy/compose.yaml", env={"HOME": "/home/dev"})
    assert service.volumes == [
        VolumeMount("volume", "data", "/var/lib/data", read_only=True),
        VolumeMount("bind", str(tmp_path / "deploy" / "src"), "/src"),
        VolumeMount("bind", str(tmp_path / "shared"), "/shared", read_only=True),
        VolumeMount("volume", "web-anon-1", "/cache"),
        VolumeMount("bind", "/home/dev/.npm", "/npm"),
        VolumeMount("bind", str(tmp_path / "deploy" / "conf"), "/etc/conf", read_only=True),
        VolumeMount("volume", "logs", "/logs"),
        VolumeMount("volume", "web-anon-2", "/scratch"),
    ]
    assert service.tmpfs == ["/tmp", "/run:size=65536"]


def test_named_volumes_are_listed_sorted_with_the_anonymous_ones(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        services={
            "b": {"image": "x", "volumes": ["zeta:/z", "/anon"]},
            "a": {"image": "x", "volumes": ["alpha:/a", "zeta:/z2"]},
        },
    )
    assert stack.volumes == ["alpha", "b-anon-1", "zeta"]


@pytest.mark.parametrize(
    ("volume", "problem"),
    [
        ('"data:relative"', "must be an absolute container path"),
        ('"a:b:c:d"', "is not SOURCE:TARGET"),
        ('"data:/x:rx"', "unknown mode 'rx'"),
        ('"bad name!:/x"', "is not a volume name"),
        ("{type: bind, target: /x}", "has no source"),
        ("7", "neither SOURCE:TARGET nor a mapping"),
    ],
)
def test_bad_volumes(tmp_path: Path, volume: str, problem: str) -> None:
    message = error(tmp_path, f"services:\n  web:\n    image: x\n    volumes: [{volume}]\n")
    assert "web: volumes" in message
    assert problem in message


def test_environment_forms_and_env_files_come_first(tmp_path: Path) -> None:
    write(
        tmp_path,
        "# defaults\n\nexport A=from-file\nB='quoted value'\nC=\"x\"\nD=plain # a comment\nE=1\n",
        "config/app.env",
    )
    service = one(
        tmp_path,
        """\
        image: x
        env_file: [config/app.env, {path: config/missing.env, required: false}]
        environment: [E=2, "F=a=b", HOME_DIR, NOT_SET]
        """,
        env={"HOME_DIR": "/home/dev"},
    )
    assert service.environment == {
        "A": "from-file",
        "B": "quoted value",
        "C": "x",
        "D": "plain",
        "E": "2",
        "F": "a=b",
        "HOME_DIR": "/home/dev",
    }
    mapped = one(tmp_path, "image: x\nenvironment: {EMPTY: null, ON: off, OFF: False, N: 1.5}\n")
    assert mapped.environment == {"EMPTY": "", "ON": "off", "OFF": "false", "N": "1.5"}


def test_env_files_must_be_the_repository_s_and_exist(tmp_path: Path) -> None:
    outside = tmp_path / "outside.env"
    outside.write_text("SECRET=1\n")
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("[remote]\n")
    message = error(root, "services:\n  web:\n    image: x\n    env_file: ../outside.env\n")
    assert "web: env_file: ../outside.env is not the repository's" in message
    message = error(root, "services:\n  web:\n    image: x\n    env_file: .git/config\n")
    assert "web: env_file: .git/config is not the repository's" in message
    message = error(root, "services:\n  web:\n    image: x\n    env_file: [gone.env]\n")
    assert "web: env_file: gone.env does not exist" in message
    write(root, "not a variable line\n", "bad.env")
    message = error(root, "services:\n  web:\n    image: x\n    env_file: bad.env\n")
    assert "env_file bad.env: line 1: not KEY=VALUE" in message


def test_depends_on_forms(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        services={
            "db": {"image": "x"},
            "migrate": {"image": "x", "depends_on": {"db": None}},
            "web": {
                "image": "x",
                "depends_on": {
                    "db": {"condition": "service_healthy", "restart": True},
                    "migrate": {"condition": "service_completed_successfully"},
                },
            },
        },
    )
    assert stack.services["migrate"].depends_on == {"db": "service_started"}
    assert stack.services["web"].depends_on == {
        "db": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    assert stack.unsupported == ["web: depends_on db.restart"]
    bad = {"db": {"image": "x"}, "web": {"image": "x", "depends_on": {"db": {"condition": "up"}}}}
    assert "web: depends_on db: 'up': use service_started" in error(tmp_path, services=bad)


def test_an_unknown_dependency_is_named(tmp_path: Path) -> None:
    message = error(tmp_path, services={"web": {"image": "x", "depends_on": ["db"]}})
    assert "docker.services: web: depends_on names db, which is not a service" in message


@pytest.mark.parametrize(
    ("depends", "cycle"),
    [
        ({"a": ["b"], "b": ["a"]}, "a -> b -> a"),
        ({"a": ["b"], "b": ["c"], "c": ["b"]}, "b -> c -> b"),
        ({"a": ["a"]}, "a -> a"),
    ],
)
def test_a_cycle_is_named(tmp_path: Path, depends: dict[str, list[str]], cycle: str) -> None:
    services = {name: {"image": "x", "depends_on": deps} for name, deps in depends.items()}
    assert f"depends_on: a cycle: {cycle}" in error(tmp_path, services=services)


@pytest.mark.parametrize("name", ["-web", ".web", "we b", "web/1", "a" * 41, "", "ü"])
def test_a_bad_service_name(tmp_path: Path, name: str) -> None:
    assert "is not a service name" in error(tmp_path, services={name: {"image": "x"}})


def test_forty_characters_are_a_name(tmp_path: Path) -> None:
    assert list(load(tmp_path, services={"a" * 40: {"image": "x"}}).services) == ["a" * 40]


def test_a_service_needs_image_or_build(tmp_path: Path) -> None:
    message = error(tmp_path, "services:\n  web:\n    command: serve\n")
    assert f"{tmp_path / 'compose.yaml'}: web: needs image or build" in message
    both = one(tmp_path, "image: shop/web:dev\nbuild: .\n")
    assert both.image == "shop/web:dev"
    assert both.build == {"context": ".", "dockerfile": "Dockerfile", "name": "web"}


def test_a_parse_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  web:\n    image: x\n   bad: y\n")
    message = error(tmp_path, path.read_text())
    assert f"{path}: line 4, column 4: expected <block end>" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a\n", "(top level): must be a mapping with services"),
        ("", "(top level): must be a mapping with services"),
        ("version: '3'\n", "services: must be a mapping"),
        ("services: [web]\n", "services: must be a mapping"),
        ("services:\n  web:\n", "web: must be a mapping of keys"),
        ("services:\n  web: nginx\n", "web: must be a mapping of keys"),
        ("services:\n  1: {image: x}\n", "1 is not a service name"),
        ("volumes: [data]\nservices:\n  web: {image: x}\n", "volumes: must be a mapping"),
        ("services: !!python/object:os.system {}\n", "could not determine a constructor"),
        ("services:\n  web: {image: x, privileged: yes}\n", "privileged: must be true or false"),
    ],
)
def test_bad_shapes(tmp_path: Path, text: str, problem: str) -> None:
    assert problem in error(tmp_path, text)


@pytest.mark.parametrize(
    "spec",
    [
        {"image": ["x"]},
        {"image": "x", "command": {"a": 1}},
        {"image": "x", "command": "unclosed 'quote"},
        {"image": "x", "environment": 5},
        {"image": "x", "environment": [{"A": 1}]},
        {"image": "x", "ports": "80"},
        {"image": "x", "expose": [{"target": 80}]},
        {"image": "x", "volumes": "data:/x"},
        {"image": "x", "tmpfs": ["relative"]},
        {"image": "x", "healthcheck": "curl"},
        {"image": "x", "healthcheck": {"test": ["WHAT", "x"]}},
        {"image": "x", "healthcheck": {"test": "true", "interval": "soon"}},
        {"image": "x", "healthcheck": {"test": "true", "interval": "0s"}},
        {"image": "x", "healthcheck": {"test": "true", "retries": "3"}},
        {"image": "x", "depends_on": 5},
        {"image": "x", "labels": 3},
        {"image": "x", "privileged": "yes"},
        {"image": "x", "working_dir": "app"},
        {"image": "x", "user": None, "build": {"context": ["."]}},
        {"image": "x", "env_file": {"path": None}},
        {"build": "https://github.com/o/r.git"},
        {"build": "../elsewhere"},
    ],
)
def test_wrong_values_are_config_errors(tmp_path: Path, spec: dict[str, Any]) -> None:
    assert "docker.services: web: " in error(tmp_path, services={"web": spec})


def test_aliases_that_grow_or_loop_are_refused(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
        for a, b in zip("abcdefg", "bcdefgh", strict=True)
    )
    text = f"x-bomb:\n{textwrap.indent(laughs, '  ')}services:\n  web:\n    image: x\n"
    text += "    labels: *h\n"
    assert "too large or nested too deeply" in error(tmp_path, text)
    looped = "services:\n  web:\n    image: x\n    command: &c [a, *c]\n"
    assert "too large or nested too deeply" in error(tmp_path, looped)


def test_interpolation(tmp_path: Path) -> None:
    env = {"TAG": "7", "EMPTY": "", "NAME": "shop", "B": "bee"}
    service = one(
        tmp_path,
        """\
        image: redis:${TAG}
        environment:
          PLAIN: $NAME-db
          DEFAULT: ${UNSET:-fallback}
          EMPTY_DEFAULT: ${EMPTY:-fallback}
          UNSET_ONLY: ${EMPTY-fallback}
          UNSET_DASH: ${UNSET-dash}
          NESTED: ${UNSET:-${B}-x}
          ALT: ${NAME:+set}
          NO_ALT: ${EMPTY:+set}
          DOLLAR: $$HOME and $${NAME} cost $5
          BLANK: ${UNSET}
        """,
        env=env,
    )
    assert service.image == "redis:7"
    assert service.environment == {
        "PLAIN": "shop-db",
        "DEFAULT": "fallback",
        "EMPTY_DEFAULT": "fallback",
        "UNSET_ONLY": "",
        "UNSET_DASH": "dash",
        "NESTED": "bee-x",
        "ALT": "set",
        "NO_ALT": "",
        "DOLLAR": "$HOME and ${NAME} cost $5",
        "BLANK": "",
    }


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("${DB_PASSWORD:?set DB_PASSWORD first}", "${DB_PASSWORD}: set DB_PASSWORD first"),
        ("${DB_PASSWORD?}", "${DB_PASSWORD}: must be set"),
        ("${EMPTY:?}", "${EMPTY}: must be set"),
        ("${1ABC}", "${1ABC}: not a variable"),
        ("${OPEN", "'${OPEN': a ${ without its }"),
    ],
)
def test_interpolation_errors(tmp_path: Path, value: str, problem: str) -> None:
    message = error(tmp_path, services={"web": {"image": "x", "user": value}}, env={"EMPTY": ""})
    assert f"docker.services: web: {problem}" in message


def test_untrusted_files_use_no_host_value(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    env = {"DB_PASSWORD": "s3cret", "TAG": "9", "API_KEY": "k"}
    stack = load(
        tmp_path,
        """\
        services:
          web:
            image: app:${TAG:-latest}
            environment: [API_KEY, "PASSWORD=${DB_PASSWORD:-devpass}"]
            volumes: [/etc:/x, ./src:/src, "~/.ssh:/ssh:ro"]
            privileged: true
            cap_add: [SYS_ADMIN]
            pid: host
            network_mode: host
            devices: [/dev/kvm]
        """,
        env={**env, "HOME": "/home/dev"},
        trusted=False,
        allow=True,
    )
    web = stack.services["web"]
    assert web.image == "app:latest"
    assert web.environment == {"PASSWORD": "devpass"}
    assert web.volumes == [VolumeMount("bind", str(tmp_path / "src"), "/src")]
    assert (web.privileged, web.cap_add, web.pid, web.network_mode, web.devices) == (
        False,
        [],
        None,
        None,
        [],
    )
    assert stack.ignored == [
        "web: ${TAG}",
        "web: ${DB_PASSWORD}",
        "web: environment API_KEY",
        "web: volumes /etc:/x",
        "web: volumes ~/.ssh:/ssh",
        "web: privileged",
        "web: cap_add",
        "web: devices",
        "web: pid host",
        "web: network_mode host",
    ]
    assert stack.refused == []
    warning = stack.ignored_warning()
    assert warning is not None
    assert "web: ${DB_PASSWORD}" in warning
    assert "para trust" in warning
    assert "s3cret" not in warning


def test_an_untrusted_required_variable_says_trust_would_give_it(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        services={"web": {"image": "x", "environment": {"P": "${DB_PASSWORD:?needed}"}}},
        env={"DB_PASSWORD": "s3cret"},
        trusted=False,
    )
    assert "web: ${DB_PASSWORD}: needed; the host's value applies once you trust" in message


PRIVILEGED = {
    "image": "x",
    "privileged": True,
    "cap_add": ["NET_ADMIN"],
    "pid": "host",
    "devices": ["/dev/fuse:/dev/fuse"],
    "network_mode": "host",
    "volumes": ["/var/log:/logs:ro"],
    "environment": ["TOKEN"],
}


def test_trusted_but_not_allowed_privileges_are_refused(tmp_path: Path) -> None:
    stack = load(
        tmp_path, services={"web": PRIVILEGED}, env={"TOKEN": "t"}, trusted=True, allow=False
    )
    web = stack.services["web"]
    assert (web.privileged, web.cap_add, web.pid, web.network_mode, web.devices) == (
        False,
        [],
        None,
        None,
        [],
    )
    assert web.volumes == [VolumeMount("bind", "/var/log", "/logs", read_only=True)]
    assert web.environment == {"TOKEN": "t"}
    assert stack.ignored == []
    assert stack.refused == [
        "web: privileged",
        "web: cap_add",
        "web: devices",
        "web: pid host",
        "web: network_mode host",
    ]
    warning = stack.refused_warning()
    assert warning is not None
    assert "docker.allow_privileged_services" in warning


def test_trusted_and_allowed_privileges_apply(tmp_path: Path) -> None:
    stack = load(tmp_path, services={"web": PRIVILEGED}, trusted=True, allow=True)
    web = stack.services["web"]
    assert web.privileged is True
    assert web.cap_add == ["NET_ADMIN"]
    assert web.pid == "host"
    assert web.network_mode == "host"
    assert web.devices == ["/dev/fuse:/dev/fuse"]
    assert (stack.ignored, stack.refused, stack.refused_warning()) == ([], [], None)


def test_pid_and_network_modes_other_than_host_are_unsupported(tmp_path: Path) -> None:
    spec = {"image": "x", "pid": "service:db", "network_mode": "none", "privileged": False}
    stack = load(tmp_path, services={"web": spec}, trusted=True, allow=True)
    assert stack.services["web"].pid is None
    assert stack.services["web"].network_mode is None
    assert stack.unsupported == ["web: pid service:db", "web: network_mode none"]
    assert stack.refused == []


def test_the_compose_file_must_be_in_the_repository(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    write(tmp_path, "services:\n  web: {image: x}\n", "outside.yaml")
    (root / "compose.yaml").symlink_to(tmp_path / "outside.yaml")
    (root / "docs").mkdir()

    def problem(name: str) -> str:
        with pytest.raises(ConfigError) as err:
            compose.load(
                root,
                compose_file=name,
                services=None,
                env={},
                trusted=True,
                allow_privileged=False,
            )
        return err.value.message

    assert "docker.compose_file: ../outside.yaml: outside the repository" in problem(
        "../outside.yaml"
    )
    assert "docker.compose_file: compose.yaml: outside the repository" in problem("compose.yaml")
    assert "docker.compose_file: /etc/hosts: outside the repository" in problem("/etc/hosts")
    assert "docker.compose_file: docker-compose.yml: no such file" in problem("docker-compose.yml")
    assert "docker.compose_file: docs: not a file" in problem("docs")


def test_a_symlink_in_the_repository_is_where_it_leads(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (tmp_path / "secrets").mkdir()
    root.mkdir()
    (root / "data").symlink_to(tmp_path / "secrets")
    spec = {"web": {"image": "x", "volumes": ["./data:/data"]}}
    untrusted = load(root, services=spec, trusted=False)
    assert untrusted.services["web"].volumes == []
    assert untrusted.ignored == ["web: volumes ./data:/data"]
    trusted = load(root, services=spec, trusted=True)
    assert trusted.services["web"].volumes == [
        VolumeMount("bind", str(tmp_path / "secrets"), "/data")
    ]


def test_paths_in_a_file_are_relative_to_its_directory(tmp_path: Path) -> None:
    (tmp_path / "deploy" / "web").mkdir(parents=True)
    write(tmp_path, "A=1\n", "deploy/web.env")
    stack = load(
        tmp_path,
        """\
        services:
          web:
            build: {context: web, dockerfile: ../Dockerfile.web, target: dev}
            env_file: web.env
            volumes: [./web:/app]
        """,
        name="deploy/compose.yaml",
    )
    web = stack.services["web"]
    assert web.build == {
        "context": "deploy/web",
        "dockerfile": "deploy/Dockerfile.web",
        "target": "dev",
        "name": "web",
    }
    assert web.environment == {"A": "1"}
    assert web.volumes == [VolumeMount("bind", str(tmp_path / "deploy" / "web"), "/app")]


def test_json_services_equal_the_yaml_ones(tmp_path: Path) -> None:
    from_yaml = load(tmp_path, REALISTIC)
    as_json = json.loads(json.dumps(yaml.safe_load(REALISTIC)["services"]))
    from_json = load(tmp_path, services=as_json)
    assert from_json.services == from_yaml.services
    assert list(from_json.services) == list(from_yaml.services)
    assert from_json.source is None
    assert from_json.volumes == from_yaml.volumes


def test_both_sources_or_none(tmp_path: Path) -> None:
    write(tmp_path, "services:\n  web: {image: x}\n")
    with pytest.raises(ConfigError) as err:
        compose.load(
            tmp_path,
            compose_file="compose.yaml",
            services={"web": {"image": "x"}},
            env={},
            trusted=True,
            allow_privileged=False,
        )
    assert "docker.compose_file and docker.services: both given; keep one" in err.value.message
    empty: list[dict[str, Any] | None] = [None, {}]
    for services in empty:
        found = compose.load(
            tmp_path,
            compose_file=None,
            services=services,
            env={},
            trusted=True,
            allow_privileged=False,
        )
        assert found is None


def test_unsupported_keys_are_named_once(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        """\
        version: "3.9"
        x-defaults: {restart: always}
        networks: {front: {}}
        configs: {app: {file: ./app.conf}}
        volumes:
          data: {driver: local, labels: {a: b}}
        services:
          web:
            image: x
            deploy: {replicas: 2}
            container_name: web
            restart: always
            x-note: hi
            healthcheck: {test: "true", start_interval: 1s}
            build: {context: ., ssh: [default]}
            volumes: ["a:/a:z", "b:/b:ro,z"]
          worker:
            image: x
            deploy: {replicas: 2}
            hostname: worker
        """,
    )
    assert stack.unsupported == [
        "networks",
        "configs",
        "volumes data: driver",
        "web: deploy",
        "web: container_name",
        "web: build.ssh",
        "web: healthcheck.start_interval",
        "web: volumes :z",
        "worker: deploy",
        "worker: hostname",
    ]
    warning = stack.unsupported_warning()
    assert warning is not None
    assert warning.count("web: deploy") == 1
    assert warning.count("web: volumes :z") == 1
    assert warning.startswith(f"{tmp_path / 'compose.yaml'}: para does not use networks, ")
    assert "restart" not in warning
    assert "x-" not in warning
    assert load(tmp_path, services={"web": {"image": "x"}}).unsupported_warning() is None


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ("curl -f http://localhost/", ["/bin/sh", "-c", "curl -f http://localhost/"]),
        (["CMD-SHELL", "pg_isready -U app"], ["/bin/sh", "-c", "pg_isready -U app"]),
        (["CMD", "true"], ["true"]),
    ],
)
def test_healthcheck_tests(tmp_path: Path, test: Any, expected: list[str]) -> None:
    stack = load(tmp_path, services={"web": {"image": "x", "healthcheck": {"test": test}}})
    assert stack.services["web"].healthcheck == Healthcheck(test=expected)


@pytest.mark.parametrize(
    "healthcheck",
    [{"test": ["NONE"]}, {"test": ["CMD", "true"], "disable": True}, {"disable": True}],
)
def test_a_disabled_healthcheck_is_none(tmp_path: Path, healthcheck: dict[str, Any]) -> None:
    stack = load(tmp_path, services={"web": {"image": "x", "healthcheck": healthcheck}})
    assert stack.services["web"].healthcheck is None


def test_build_arguments_from_the_host_wait_for_trust(tmp_path: Path) -> None:
    spec = {"web": {"build": {"args": ["VERSION", "MODE=dev", "MISSING"]}}}
    trusted = load(tmp_path, services=spec, env={"VERSION": "2"})
    assert trusted.services["web"].build == {
        "context": ".",
        "dockerfile": "Dockerfile",
        "args": {"VERSION": "2", "MODE": "dev"},
        "name": "web",
    }
    untrusted = load(tmp_path, services=spec, env={"VERSION": "2"}, trusted=False)
    assert untrusted.services["web"].build is not None
    assert untrusted.services["web"].build["args"] == {"MODE": "dev"}
    assert untrusted.ignored == ["web: build.args VERSION"]


def test_names_that_would_share_variables_are_refused(tmp_path: Path) -> None:
    message = error(
        tmp_path, services={"redis-cache": {"image": "x"}, "redis_cache": {"image": "x"}}
    )
    assert "redis-cache and redis_cache: both are PARA_SERVICE_REDIS_CACHE_*" in message


def test_env_name() -> None:
    assert compose.env_name("redis-cache") == "REDIS_CACHE"
    assert compose.env_name("db.v2") == "DB_V2"
    assert compose.env_name("Web_1") == "WEB_1"


def test_variables_inside_and_outside(tmp_path: Path) -> None:
    stack = load(tmp_path, REALISTIC)
    inside = compose.variables(stack, inside=True, host_ports={})
    assert inside == {
        "PARA_SERVICE_REDIS_HOST": "redis",
        "PARA_SERVICE_REDIS_PORT": "6379",
        "PARA_SERVICE_REDIS_PORT_6379": "6379",
        "PARA_SERVICE_WORKER_HOST": "worker",
        "PARA_SERVICE_WEB_HOST": "web",
        "PARA_SERVICE_WEB_PORT": "8000",
        "PARA_SERVICE_WEB_PORT_8000": "8000",
        "PARA_SERVICE_WEB_PORT_9229": "9229",
    }
    outside = compose.variables(stack, inside=False, host_ports={"web": {8000: 49153, 9229: 49154}})
    assert outside == {
        "PARA_SERVICE_REDIS_HOST": "127.0.0.1",
        "PARA_SERVICE_WORKER_HOST": "127.0.0.1",
        "PARA_SERVICE_WEB_HOST": "127.0.0.1",
        "PARA_SERVICE_WEB_PORT": "49153",
        "PARA_SERVICE_WEB_PORT_8000": "49153",
        "PARA_SERVICE_WEB_PORT_9229": "49154",
    }


def test_dotenv() -> None:
    text = compose.dotenv(
        {
            "B": "127.0.0.1",
            "A": "redis://redis:6379/0",
            "C": "",
            "D": "two words",
            "E": "it's $HOME",
            "F": "line\nbreak",
        }
    )
    assert text == (
        "A=redis://redis:6379/0\n"
        "B=127.0.0.1\n"
        "C=\n"
        "D='two words'\n"
        'E="it\'s \\$HOME"\n'
        'F="line\\nbreak"\n'
    )


def test_warnings_are_none_when_nothing_was_left_out(tmp_path: Path) -> None:
    stack = load(tmp_path, services={"web": {"image": "x"}})
    assert stack.unsupported_warning() is None
    assert stack.ignored_warning() is None
    assert stack.refused_warning() is None
