#!/usr/bin/env bash
# scripts/engines.sh - provision the container engines para's tests use (`make engines`).
#
# What it does, each step skipped when already done (a second run is a fast no-op):
#   1. installs docker.io podman catatonit busybox-static debootstrap (Debian/Ubuntu, as root);
#   2. starts dockerd in the background when `docker info` does not answer (no systemd needed);
#   3. configures Podman through a drop-in file and starts its Docker-compatible API socket;
#   4. builds two offline test images into both engines (no registry is ever contacted):
#        localhost/para-test/busybox:1   busybox-static on scratch
#        localhost/para-test/debian:2    debootstrap'd bookworm with git, python3, pytest, pip
#   5. verifies every engine (docker, podman, podman's Docker API) and prints a summary.
#
# Environment overrides:
#   PARA_ENGINES          engines to provision, default "docker podman"
#   PARA_PODMAN_SOCKET    podman API socket, default /run/podman/podman.sock
#                         (rootless: $XDG_RUNTIME_DIR/podman/podman.sock)
#   PARA_DOCKER_HOST      Docker daemon to use, default unix:///var/run/docker.sock
#                         (DOCKER_HOST is deliberately ignored: it often points at podman)
#   PARA_DOCKERD_ARGS     extra arguments for a dockerd this script starts
#   PARA_ENGINES_CACHE    cache for the Debian rootfs tarball, default /var/cache/para-test
#   PARA_DEBIAN_MIRROR    default: the machine's own apt source for the suite
#                         (/etc/apt/sources.list, sources.list.d/*.list and *.sources)
#   PARA_ENGINES_TIMEOUT  seconds to wait for a daemon to answer, default 60
set -euo pipefail

ENGINES="${PARA_ENGINES:-docker podman}"
DOCKER_HOST_URL="${PARA_DOCKER_HOST:-unix:///var/run/docker.sock}"
TIMEOUT="${PARA_ENGINES_TIMEOUT:-60}"
CACHE_DIR="${PARA_ENGINES_CACHE:-/var/cache/para-test}"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${PARA_DEBIAN_MIRROR:-}"   # found in the apt sources when empty (apt_mirror)
DEBIAN_INCLUDE=git,python3,python3-pytest,python3-pip,python3-setuptools,python3-wheel,ca-certificates

# Fully qualified tags under "localhost/": Docker and Podman both keep such a name as it
# is (Docker would turn "para-test/busybox" into docker.io/para-test/busybox, Podman into
# localhost/para-test/busybox), so the same string finds the same local image in docker,
# podman and podman's Docker API, and a missing image never triggers a Docker Hub pull.
BUSYBOX_TAG=localhost/para-test/busybox:1
DEBIAN_TAG=localhost/para-test/debian:2
# Bump the suffix when the debootstrap parameters change, so the cache is rebuilt.
ROOTFS_TARBALL="$CACHE_DIR/debian-$DEBIAN_SUITE-minbase-v3.tar"

# catatonit: the init process Podman runs as PID 1 for --init (Init=true in the API).
PACKAGES=(docker.io podman catatonit busybox-static debootstrap)

if [ "$(id -u)" -eq 0 ]; then
    IS_ROOT=1
    PODMAN_SOCKET="${PARA_PODMAN_SOCKET:-/run/podman/podman.sock}"
    PODMAN_DROPIN=/etc/containers/containers.conf.d/para.conf
    LOG_DIR=/var/log
else
    IS_ROOT=0
    PODMAN_SOCKET="${PARA_PODMAN_SOCKET:-${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/podman/podman.sock}"
    PODMAN_DROPIN="${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf.d/para.conf"
    LOG_DIR="${XDG_STATE_HOME:-$HOME/.local/state}/para"
fi
PODMAN_SOCKET="${PODMAN_SOCKET#unix://}"
PODMAN_HOST_URL="unix://$PODMAN_SOCKET"
DOCKERD_LOG="$LOG_DIR/para-dockerd.log"
PODMAN_LOG="$LOG_DIR/para-podman-service.log"
PODMAN_PIDFILE="$(dirname "$PODMAN_SOCKET")/para-podman-service.pid"
BUILD_LOG="$LOG_DIR/para-engines-build.log"

DOCKER=""          # docker client chosen by pick_docker_client
PODMAN_CONF_CHANGED=0
FAILED=()          # engines that could not be made to work
SUMMARY=()

log()  { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
want() { [[ " $ENGINES " == *" $1 "* ]]; }
fail_engine() { warn "$1: $2"; FAILED+=("$1: $2"); }

# Poll "$@" until it succeeds or TIMEOUT seconds have passed (no fixed sleeps).
wait_for() {
    local what=$1; shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            warn "$what did not answer within ${TIMEOUT}s"
            return 1
        fi
        sleep 0.2
    done
}

# Run a noisy command with its output in BUILD_LOG; show the tail only when it fails.
quiet() {
    if ! "$@" >>"$BUILD_LOG" 2>&1; then
        warn "failed: $* (last lines of $BUILD_LOG follow)"
        tail -n 20 "$BUILD_LOG" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------- packages

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        case $p in
            # Docker's own packages (docker-ce) or Moby provide the same daemon.
            docker.io) want docker || continue
                       pkg_installed docker.io || pkg_installed docker-ce \
                           || pkg_installed moby-engine || echo "$p" ;;
            podman)    want podman || continue
                       pkg_installed podman || echo "$p" ;;
            *)         pkg_installed "$p" || echo "$p" ;;
        esac
    done
}

# Another apt/dpkg may be running (e.g. an unattended upgrade or a manual install):
# wait for it instead of failing on the dpkg lock.
wait_for_apt() {
    command -v pgrep >/dev/null 2>&1 || return 0   # apt's Lock::Timeout still waits
    local deadline=$((SECONDS + 1800))
    while pgrep -x 'apt-get|apt|dpkg|unattended-upgr' >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "another apt/dpkg process has been running for 30 minutes"
        log "waiting for a running apt/dpkg process to finish"
        sleep 2
    done
}

install_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "not a Debian/Ubuntu system: skipping package installation (see docs/engines.md)"
        return 0
    fi
    wait_for_apt
    local missing
    missing=$(missing_packages | tr '\n' ' ')
    missing=${missing% }
    if [ -z "$missing" ]; then
        log "packages present: ${PACKAGES[*]}"
        return 0
    fi
    if ((IS_ROOT == 0)); then
        printf 'Missing packages: %s\nInstall them as root, then re-run:\n  sudo apt-get update && sudo apt-get install -y %s\n' \
            "$missing" "$missing" >&2
        exit 1
    fi
    log "installing: $missing"
    # Lock::Timeout makes apt wait for a lock taken between our check and now.
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -q)
    export DEBIAN_FRONTEND=noninteractive
    "${apt[@]}" update || die "apt-get update failed"
    # Recommends stay on: rootless podman needs uidmap and slirp4netns from them.
    # shellcheck disable=SC2086
    "${apt[@]}" install -y $missing || die "apt-get install $missing failed"
}

# ---------------------------------------------------------------------------- docker

docker_answers() { "${1:-$DOCKER}" -H "$DOCKER_HOST_URL" info >/dev/null 2>&1; }

# Candidates: the client first on PATH (what users and para run), then the one shipped
# with docker.io. Keep the first that can talk to the daemon (API version negotiation
# lets a newer client talk to an older daemon; an older client cannot talk to a daemon
# whose minimum API version is above its own).
pick_docker_client() {
    local c
    for c in "$(command -v docker || true)" /usr/bin/docker /usr/local/bin/docker; do
        if [ -z "$c" ] || [ ! -x "$c" ]; then continue; fi
        if docker_answers "$c"; then DOCKER=$c; return 0; fi
    done
    return 1
}

docker_pid_alive() {
    [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null
}

start_dockerd() {
    if ! command -v docker >/dev/null 2>&1 && [ ! -x /usr/bin/docker ]; then
        fail_engine docker "no docker client installed"; return 1
    fi
    DOCKER=$(command -v docker || echo /usr/bin/docker)
    if pick_docker_client; then
        log "dockerd answers at $DOCKER_HOST_URL"
        return 0
    fi
    if [ "$DOCKER_HOST_URL" != unix:///var/run/docker.sock ] || ((IS_ROOT == 0)); then
        fail_engine docker "no Docker daemon answers at $DOCKER_HOST_URL (start it, or add yourself to the docker group)"
        return 1
    fi
    command -v dockerd >/dev/null 2>&1 || { fail_engine docker "dockerd is not installed"; return 1; }
    if docker_pid_alive; then
        log "dockerd (pid $(cat /var/run/docker.pid)) is starting; waiting for it"
    else
        log "starting dockerd (log: $DOCKERD_LOG)"
        mkdir -p "$LOG_DIR"
        # No systemd here: run the daemon in its own session so it survives this shell/make.
        # shellcheck disable=SC2086
        setsid nohup dockerd ${PARA_DOCKERD_ARGS:-} >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    if ! wait_for "dockerd" pick_docker_client; then
        tail -n 15 "$DOCKERD_LOG" >&2 || true
        fail_engine docker "dockerd did not start (see $DOCKERD_LOG)"
        return 1
    fi
    log "dockerd is up"
}

# ---------------------------------------------------------------------------- podman

# Write FILE only when its content differs, so a re-run changes nothing.
write_if_changed() {
    local file=$1 content=$2
    if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ]; then
        return 1
    fi
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$content" >"$file.tmp.$$" && mv "$file.tmp.$$" "$file"
    return 0
}

configure_podman() {
    command -v podman >/dev/null 2>&1 || { fail_engine podman "podman is not installed"; return 1; }
    local version
    version=$(podman version --format '{{.Client.Version}}' 2>/dev/null || echo unknown)
    log "podman $version"
    if ((IS_ROOT == 0)); then
        # Rootless podman maps container uids through /etc/subuid and /etc/subgid; with no
        # range only uid 0 exists in the container and the Debian image (files owned by
        # gid 42 etc.) cannot even be unpacked ("potentially insufficient UIDs or GIDs").
        local me
        me=$(id -un)
        if ! grep -qE "^($me|$(id -u)):" /etc/subuid 2>/dev/null \
                || ! grep -qE "^($me|$(id -u)):" /etc/subgid 2>/dev/null; then
            fail_engine podman "no subordinate uid/gid range for $me; as root run:
  usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $me && podman system migrate"
            return 1
        fi
    fi

    # Rootful podman raises RLIMIT_NOFILE/NPROC of every container to 1048576 and runc
    # then fails with "error setting rlimit type 7/6: operation not permitted" where the
    # host lacks CAP_SYS_RESOURCE (sandboxes, VMs) and the hard limit is lower. Podman
    # itself also lowers its own nproc hard limit to kernel.pid_max, so nproc must not be
    # above that either. Pin both to what this host can actually grant.
    local nofile nproc pid_max
    nofile=$(ulimit -Hn)
    if [ "$nofile" = unlimited ] || ((nofile > 1048576)); then nofile=1048576; fi
    nproc=$(ulimit -Hu)
    pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 4194304)
    if [ "$nproc" = unlimited ] || ((nproc > pid_max)); then nproc=$pid_max; fi

    local conf
    conf="# Written by para's scripts/engines.sh; delete it to undo. Values are this host's
# hard limits: podman's defaults (1048576) exceed them and runc fails to set them.
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    if [ ! -d /run/systemd/system ]; then
        # No systemd: podman must neither create cgroups nor log events through it.
        conf+="

[engine]
cgroup_manager = \"cgroupfs\"
events_logger = \"file\""
    fi
    if write_if_changed "$PODMAN_DROPIN" "$conf"; then
        PODMAN_CONF_CHANGED=1
        log "wrote $PODMAN_DROPIN"
    else
        log "podman config unchanged ($PODMAN_DROPIN)"
    fi
    # containers.conf.d drop-ins are only read by newer podman (4.x reads them here);
    # check that this one actually is, instead of guessing from the version number.
    # (Output captured first: with pipefail, grep -q closing the pipe early fails it.)
    local debug
    debug=$(podman --log-level=debug info 2>&1 || true)
    if [[ "$debug" != *"$PODMAN_DROPIN"* ]]; then
        fail_engine podman "podman $version ignores $PODMAN_DROPIN; put its [containers]/[engine] settings into containers.conf yourself"
        return 1
    fi
}

podman_socket_answers() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 5 --unix-socket "$PODMAN_SOCKET" http://d/_ping >/dev/null 2>&1
    else
        podman --remote --url "$PODMAN_HOST_URL" version >/dev/null 2>&1
    fi
}

# Pid of the service this script started, if it is still that process (pids get reused).
podman_service_pid() {
    local pid
    pid=$(cat "$PODMAN_PIDFILE" 2>/dev/null) && [ -n "$pid" ] || return 1
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == "podman system service "* ]] || return 1
    echo "$pid"
}

start_podman_service() {
    if podman_socket_answers; then
        if ((PODMAN_CONF_CHANGED == 0)); then
            log "podman API answers at $PODMAN_SOCKET"
            return 0
        fi
        # The service read containers.conf when it started: restart ours to apply it.
        local pid
        if pid=$(podman_service_pid); then
            log "restarting podman service (pid $pid) to apply the new config"
            kill "$pid"
            wait_for "podman service to stop" bash -c "! kill -0 $pid"
        else
            warn "a podman service not started by this script serves $PODMAN_SOCKET; restart it to apply $PODMAN_DROPIN"
            return 0
        fi
    fi
    log "starting podman system service on $PODMAN_SOCKET (log: $PODMAN_LOG)"
    mkdir -p "$(dirname "$PODMAN_SOCKET")" "$LOG_DIR"
    rm -f "$PODMAN_SOCKET"   # a stale socket file from a dead service blocks the bind
    setsid nohup podman system service --time=0 "$PODMAN_HOST_URL" >>"$PODMAN_LOG" 2>&1 </dev/null &
    echo $! >"$PODMAN_PIDFILE"
    if ! wait_for "podman API at $PODMAN_SOCKET" podman_socket_answers; then
        tail -n 15 "$PODMAN_LOG" >&2 || true
        fail_engine podman "podman system service did not start (see $PODMAN_LOG)"
        return 1
    fi
}

# ---------------------------------------------------------------------------- images

has_image() {  # has_image ENGINE TAG
    case $1 in
        docker) "$DOCKER" -H "$DOCKER_HOST_URL" image inspect "$2" >/dev/null 2>&1 ;;
        podman) podman image exists "$2" ;;
    esac
}

BUSYBOX_CTX=""
cleanup() { [ -n "$BUSYBOX_CTX" ] && rm -rf "$BUSYBOX_CTX"; return 0; }
trap cleanup EXIT

# Sets BUSYBOX_CTX to a build context (once; shared by both engines).
make_busybox_context() {
    [ -n "$BUSYBOX_CTX" ] && return 0
    local bb
    bb=$(command -v busybox 2>/dev/null || echo /bin/busybox)
    # Must be static: the image has no libc. busybox-static provides /bin/busybox.
    if ! [ -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
        warn "no static busybox found (install busybox-static)"; return 1
    fi
    BUSYBOX_CTX=$(mktemp -d) || return 1
    cp "$bb" "$BUSYBOX_CTX/busybox" || return 1
    cat >"$BUSYBOX_CTX/Dockerfile" <<'EOF' || return 1
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
EOF
}

build_busybox() {  # build_busybox ENGINE
    has_image "$1" "$BUSYBOX_TAG" && { log "$1: $BUSYBOX_TAG present"; return 0; }
    make_busybox_context || return 1
    local ctx=$BUSYBOX_CTX
    log "$1: building $BUSYBOX_TAG"
    case $1 in
        # The legacy builder needs nothing but the daemon (FROM scratch, no pulls); it
        # is what Docker 28's CLI falls back to anyway when the buildx plugin is absent.
        docker) DOCKER_BUILDKIT=0 quiet "$DOCKER" -H "$DOCKER_HOST_URL" build -t "$BUSYBOX_TAG" "$ctx" ;;
        podman) quiet podman build --pull=never --network=none -t "$BUSYBOX_TAG" "$ctx" ;;
    esac
}

# The archive this machine's apt uses for $DEBIAN_SUITE: one-line entries
# ("deb [opts] URI SUITE COMPONENTS...") and deb822 stanzas (Types/URIs/Suites).
apt_mirror() {
    local files=() f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] && files+=("$f")
    done
    ((${#files[@]})) || return 1
    awk -v suite="$DEBIAN_SUITE" '
        function flush() {
            if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") {
                split(uris, u, " "); print u[1]; found = 1; exit
            }
            types = ""; uris = ""; suites = ""
        }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[[:space:]]*$/) { flush(); next }
            if ($1 == "Types:") { $1 = ""; types = $0 }
            else if ($1 == "URIs:") { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
            else if ($1 == "Suites:") { $1 = ""; suites = $0 }
            next
        }
        FNR == 1 { flush() }
        $1 == "deb" {
            i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == suite) { print $i; found = 1; exit }
        }
        END { if (!found) flush() }
    ' "${files[@]}" | head -n 1 | grep .
}

# debootstrap once, cache the rootfs as a tarball, import it into each engine.
debian_rootfs() {
    [ -s "$ROOTFS_TARBALL" ] && return 0
    ((IS_ROOT)) || { warn "building $ROOTFS_TARBALL needs root (debootstrap): run 'sudo make engines' once"; return 1; }
    command -v debootstrap >/dev/null 2>&1 || { warn "debootstrap is not installed"; return 1; }
    # Note: callers test our status, which disables set -e in here: check every step.
    mkdir -p "$CACHE_DIR" || return 1
    local dir
    dir=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX") && [ -d "$dir" ] || return 1
    # mktemp makes the directory 0700 and tar records that as the mode of "/": rootful
    # engines fix it up, rootless podman does not, and then no non-root uid can exec sh.
    chmod 0755 "$dir" || return 1
    if [ -z "$DEBIAN_MIRROR" ]; then
        DEBIAN_MIRROR=$(apt_mirror) || {
            warn "no apt source for $DEBIAN_SUITE in /etc/apt/sources.list*: set PARA_DEBIAN_MIRROR to a Debian archive URL"
            return 1
        }
    fi
    log "debootstrap $DEBIAN_SUITE ($DEBIAN_INCLUDE) from $DEBIAN_MIRROR - takes a few minutes"
    if ! quiet debootstrap --variant=minbase --include="$DEBIAN_INCLUDE" \
            "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR"; then
        rm -rf "$dir"; return 1
    fi
    # Package caches and lists only make the image bigger.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    # --numeric-owner: the importing engine must not map owners through the host's names.
    if ! tar --numeric-owner -C "$dir" -cf "$ROOTFS_TARBALL.tmp" . ; then
        rm -rf "$dir" "$ROOTFS_TARBALL.tmp"; return 1
    fi
    mv "$ROOTFS_TARBALL.tmp" "$ROOTFS_TARBALL" || return 1
    rm -rf "$dir"
    log "cached $ROOTFS_TARBALL ($(du -h "$ROOTFS_TARBALL" | cut -f1))"
}

build_debian() {  # build_debian ENGINE
    has_image "$1" "$DEBIAN_TAG" && { log "$1: $DEBIAN_TAG present"; return 0; }
    debian_rootfs || return 1
    log "$1: importing $DEBIAN_TAG"
    # An imported tarball has no config: give it the PATH/CMD a Dockerfile image would have.
    local changes=(
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        --change 'ENV LANG=C.UTF-8'
        --change 'CMD ["/bin/sh"]'
    )
    case $1 in
        docker) quiet "$DOCKER" -H "$DOCKER_HOST_URL" import "${changes[@]}" - "$DEBIAN_TAG" <"$ROOTFS_TARBALL" ;;
        podman) quiet podman import "${changes[@]}" "$ROOTFS_TARBALL" "$DEBIAN_TAG" ;;
    esac
}

# ---------------------------------------------------------------------------- verify

# check NAME CMD... : run one verification, record it in the summary.
check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then
        out=$(printf '%s' "$out" | tr '\n' ' ' | sed 's/ *$//')
        # e.g. rootless podman on cgroup v1: "Resource limits are not supported and ignored"
        if [[ "$out" == *ignored* ]]; then
            SUMMARY+=("  warn  $name: $out")
        else
            SUMMARY+=("  ok    $name ($out)")
        fi
        return 0
    fi
    SUMMARY+=("  FAIL  $name: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')")
    return 1
}

# verify LABEL RUN... : RUN is a docker-compatible "run" command prefix.
verify_engine() {
    local label=$1; shift
    local ok=0 limits=(--memory 64m --cpus 0.5 --pids-limit 50)
    check "$label: busybox sh -c 'echo ok'" \
        "$@" run --rm "$BUSYBOX_TAG" sh -c 'echo ok' || ok=1
    check "$label: busybox with ${limits[*]}" \
        "$@" run --rm "${limits[@]}" "$BUSYBOX_TAG" sh -c 'echo ok' || ok=1
    check "$label: debian git/python3/pytest as root" \
        "$@" run --rm "$DEBIAN_TAG" sh -c 'git --version && python3 -m pytest --version' || ok=1
    check "$label: debian git/python3/pytest as --user 1000:1000" \
        "$@" run --rm --user 1000:1000 "$DEBIAN_TAG" sh -c 'git --version && python3 -m pytest --version' || ok=1
    return $ok
}

# ---------------------------------------------------------------------------- main

main() {
    [ "$(uname -s)" = Linux ] || die "this script provisions Linux hosts only; on macOS see docs/engines.md"
    mkdir -p "$LOG_DIR"
    : >"$BUILD_LOG"
    install_packages

    local docker_ok=0 podman_ok=0
    if want docker && start_dockerd; then
        if build_busybox docker && build_debian docker; then docker_ok=1
        else fail_engine docker "could not build the test images (see $BUILD_LOG)"; fi
    fi
    if want podman && configure_podman && start_podman_service; then
        if build_busybox podman && build_debian podman; then podman_ok=1
        else fail_engine podman "could not build the test images (see $BUILD_LOG)"; fi
    fi

    if ((docker_ok)); then
        verify_engine "docker" "$DOCKER" -H "$DOCKER_HOST_URL" \
            || fail_engine docker "verification failed"
    fi
    if ((podman_ok)); then
        verify_engine "podman" podman || fail_engine podman "verification failed"
        # podman's Docker-compatible API, driven by a docker client when there is one.
        local client=${DOCKER:-$(command -v docker || true)}
        if [ -n "$client" ]; then
            verify_engine "podman API" "$client" -H "$PODMAN_HOST_URL" \
                || fail_engine podman "verification through $PODMAN_SOCKET failed"
        fi
    fi

    echo
    echo "Summary (${SECONDS}s):"
    if ((${#SUMMARY[@]})); then printf '%s\n' "${SUMMARY[@]}"; else echo "  no engine could be checked"; fi
    echo
    if ((docker_ok)); then
        local cv sv
        cv=$("$DOCKER" -H "$DOCKER_HOST_URL" version --format '{{.Client.Version}} (API {{.Client.APIVersion}})' 2>/dev/null || true)
        sv=$("$DOCKER" -H "$DOCKER_HOST_URL" version --format '{{.Server.Version}} (API {{.Server.APIVersion}}, min {{.Server.MinAPIVersion}})' 2>/dev/null || true)
        echo "docker:  DOCKER_HOST=$DOCKER_HOST_URL  client $DOCKER $cv, daemon $sv"
    fi
    if ((podman_ok)); then
        echo "podman:  $(podman version --format '{{.Client.Version}}' 2>/dev/null), API socket: export DOCKER_HOST=$PODMAN_HOST_URL"
    fi
    if ((docker_ok || podman_ok)); then echo "images:  $BUSYBOX_TAG  $DEBIAN_TAG"; fi
    if ((${#FAILED[@]})); then
        echo
        printf 'ERROR: %s\n' "${FAILED[@]}" >&2
        exit 1
    fi
}

main "$@"
