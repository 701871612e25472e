"""The session channel: status reports, the command queue and requests (docs/channel.md).

Each session has ``.para/state/channels/NAME/``, mounted at ``/para/channel`` in its
container. The container can write anything there, so the host reads it defensively:
every path is opened relative to a directory descriptor with O_NOFOLLOW (a symlink is
never followed, at any level), files larger than 64 KiB are not read, content is
validated with pydantic, and a bad file is moved to ``rejected/`` with a ``.reason``
file next to it instead of failing the command.

Layout::

    status.json               session -> host: the latest status report
    runner.json               the runner's heartbeat (pid, started_at)
    queue/<seq>-<id>.json     host -> session: commands waiting
    running/<seq>-<id>.json   claimed by the runner (renamed from queue/)
    done/<seq>-<id>.json      moved here by the runner once the result is written
    logs/<id>.log             output of a command
    results/<id>.json         exit code and times of a finished command
    requests/<kind>-<id>.json session -> host: finish / cancel
    requests/claimed/         a request being carried out (claimed by rename)
    rejected/                 files the host refused, each with <name>.reason

Modules: ``layout`` (directories and helpers, no pydantic: ``start`` uses it),
``models`` (the file formats), ``files`` (safe reads and writes), ``channel`` (the
``Channel`` of one session: status, and its ``queue`` and ``requests``), ``jobs``
(the command queue), ``requests`` (finish and cancel requests).
"""
