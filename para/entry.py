"""The ``para`` console entry point: the fast path for ``docker exec``, else the CLI."""

from __future__ import annotations

import sys


def main() -> int:
    import signal

    # Like other command-line tools: `para list | head` ends quietly when head exits.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv = sys.argv[1:]
    if argv[:2] == ["docker", "exec"]:
        from para.fastexec import try_fast_exec

        try:
            code = try_fast_exec(argv[2:])
        except KeyboardInterrupt:
            return 130  # before the command started: nothing to stop
        if code is not None:
            return code
    from para.cli.main import main as cli_main

    return cli_main(argv)
