#!/usr/bin/env bash
# A walk through para on a scratch repository: two sessions side by side, one finished,
# one cancelled. Run through `make demo` (which installs para into .venv first).
set -euo pipefail

work=$(mktemp -d "${TMPDIR:-/tmp}/para-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "Para Demo"
git config --global user.email "demo@para.invalid"
git config --global init.defaultBranch main

show() {
    local out="" arg
    for arg in "$@"; do
        if [[ "$arg" =~ [[:space:]] ]]; then out+=" \"$arg\""; else out+=" $arg"; fi
    done
    printf '\n$%s\n' "$out"
}
step() { show "$@"; "$@"; }
say() { printf '\n# %s\n' "$*"; }

say "a scratch repository with one commit"
mkdir "$work/app" && cd "$work/app"
git init -q
printf 'def add(a, b):\n    return a + b\n' > calc.py
git add calc.py && git commit -q -m "calc: add"
git log --oneline

say "two sessions side by side, each a worktree on its own branch"
step para start feature-sub
step para start docs-typo

say "work happens in each session's worktree"
sub=$(para path feature-sub)
printf 'def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n' > "$sub/calc.py"
echo "# calc" > "$(para path docs-typo)/README.md"
step para list

say "finish one: everything is committed and the branch handed back for review"
step para finish "calc: add sub" feature-sub
step git log --oneline main..para/feature-sub

say "cancel the other: its uncommitted work is kept on an archive branch"
step para cancel docs-typo --force
step para list --archived
step git branch --list 'para/*'

# An engine answers and has the image (the offline test image `make engines` builds):
# else the container part is skipped, saying why.
image=${PARA_DEMO_IMAGE:-localhost/para-test/busybox:1}
have_image() {
    local cli
    for cli in docker podman; do
        command -v "$cli" >/dev/null 2>&1 && "$cli" image inspect "$1" >/dev/null 2>&1 && return 0
    done
    return 1
}
if ! para docker list >/dev/null 2>&1; then
    say "no container engine reachable: skipping the container part (see make engines)"
elif ! have_image "$image"; then
    say "an engine answers but has no image $image: skipping the container part"
    say "(make engines builds it offline; PARA_DEMO_IMAGE=IMAGE picks another)"
else
    say "a session with its own container (an engine is reachable)"
    step para start boxed --docker --image "$image" --memory 256m --cpus 1
    step para docker exec boxed -- sh -c 'echo "hello from $(hostname)" > hello.txt; id -u'
    step para status boxed
    step para finish "boxed: hello" boxed
    step git show --stat --format=%s para/boxed
fi

# A repository that describes its container: a devcontainer.json whose Dockerfile builds
# on the offline Debian test image and whose postCreateCommand installs the project.
debian=${PARA_DEMO_DEBIAN:-localhost/para-test/debian:2}
if ! para docker list >/dev/null 2>&1; then
    :
elif ! have_image "$debian"; then
    say "no image $debian: skipping the devcontainer part (make engines builds it)"
else
    say "a repository with a devcontainer.json: containers built and provisioned from it"
    mkdir -p .devcontainer tests
    cat > .devcontainer/devcontainer.json <<'JSON'
// the project's dev container (JSON with comments)
{
  "build": {"dockerfile": "Dockerfile", "context": "..", "args": {"ANSWER": "42"}},
  "postCreateCommand": "pip install --user --break-system-packages --no-index --no-build-isolation -e .",
}
JSON
    cat > .devcontainer/Dockerfile <<DOCKERFILE
FROM $debian
ARG ANSWER
RUN echo "ANSWER = \$ANSWER" > /usr/lib/python3/dist-packages/deps.py
DOCKERFILE
    cat > pyproject.toml <<'TOML'
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1"

[tool.setuptools]
py-modules = ["calc"]
TOML
    cat > tests/test_calc.py <<'PY'
import calc
import deps


def test_add():
    assert calc.add(deps.ANSWER, 1) == 43
PY
    printf '*.egg-info/\n__pycache__/\n' > .gitignore
    git add -A && git commit -q -m "a dev container"
    step cat .devcontainer/devcontainer.json
    step para start built --docker
    step para docker exec built -- python3 -m pytest -q
    say "the second session reuses the image: nothing to build"
    step para start again --docker
    step para status again
    tag=$(para status again --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["container"]["image"])')
    step para cancel built --force
    step para cancel again --force
    for cli in docker podman; do
        if command -v "$cli" >/dev/null 2>&1; then "$cli" image rm "$tag" >/dev/null 2>&1 || true; fi
    done
fi

# Services: a compose file gives each session a web server and a worker of its own.
if ! para docker list >/dev/null 2>&1; then
    :
elif ! have_image "$image"; then
    say "no image $image: skipping the services part (make engines builds it)"
else
    say "services: each session gets its own web server and worker, on its own port"
    mkdir -p www
    echo "main checkout" > www/index.html
    cat > compose.yaml <<YAML
services:
  web:
    image: $image
    command: ["httpd", "-f", "-p", "8000", "-h", "/srv/www"]
    volumes: ["./www:/srv/www:ro"]
    ports: ["8000"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/"]
      interval: 1s
  worker:
    image: $image
    command: ["sh", "-c", "while true; do wget -q -O - http://web:8000/; sleep 5; done"]
    depends_on:
      web: {condition: service_healthy}
YAML
    mkdir -p .para
    echo '{"compose_file": "compose.yaml"}' > .para/docker.json
    git add -A && git commit -q -m "services"
    step cat compose.yaml
    step para start red
    step para start blue
    echo "red's page" > "$(para path red)/www/index.html"
    echo "blue's page" > "$(para path blue)/www/index.html"
    say "each web serves its own session's worktree, on its own port"
    for name in red blue; do
        # shellcheck disable=SC1090
        port=$(. ".para/state/services/$name.env" && echo "$PARA_SERVICE_WEB_PORT")
        show curl "http://127.0.0.1:$port/"
        python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode().strip())' \
            "http://127.0.0.1:$port/"
    done
    step para list
    step para docker logs red --all --tail 2
    step para cancel red --force
    step para cancel blue --force
fi

say "done: the repository holds the reviewed branch and the archive; nothing else changed"
step git status --short --branch
