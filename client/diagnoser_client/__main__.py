"""`python -m diagnoser_client train.py [args]`: run any script under the crash hook, with no code change.

`python -m diagnoser_client -m package.module [args]` runs a module; `python -m diagnoser_client flush`
resends the reports spooled while the service was unreachable (not before the time a Retry-After of the service
named, unless `--force`) and prints what became of them in one line.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False

USAGE = """\
usage: python -m diagnoser_client SCRIPT [ARGS...]     run SCRIPT under the crash hook
       python -m diagnoser_client -m MODULE [ARGS...]  run a module likewise
       python -m diagnoser_client flush [--force]      resend the spooled reports now (--force: even before
                                                       the time the service asked to wait until)
       python -m diagnoser_client --version

Settings come from the environment: DIAGNOSER_URL, DIAGNOSER_TOKEN, DIAGNOSER_SPOOL_DIR, ...
"""


def _flush(args: list[str]) -> int:
    """One line: what became of the spooled reports, counted after flushing. Exit 0 when none is left waiting."""
    if any(arg not in ("--force", "-f") for arg in args):
        sys.stderr.write(USAGE)
        return 2
    from diagnoser_client import config
    from diagnoser_client.delivery import Delivery
    from diagnoser_client.render import local_time

    settings = config.load()
    counts = Delivery(settings).flush_spool(force=bool(args))
    waiting, not_before = counts["waiting"], counts["not_before"]
    if not_before is not None and not (counts["delivered"] or counts["dropped"] or counts["kept"]) and waiting:
        print(
            f"diagnoser: the service asked to wait until {local_time(not_before)}; {waiting} report"
            f"{'s' if waiting != 1 else ''} waiting in {settings.spool_dir} (`flush --force` sends them now)"
        )
        return 1
    line = (
        f"diagnoser: {counts['delivered']} delivered, {waiting} still waiting, {counts['dropped']} dropped "
        f"({settings.spool_dir})"
    )
    if counts.get("stopped"):
        line += f"; stopped: {counts['stopped']}"
    if not_before is not None and waiting:
        line += f"; the service asked to wait until {local_time(not_before)}"
    print(line)
    return 0 if waiting == 0 else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    if argv[0] == "--version":
        from diagnoser_client import __version__

        print(f"diagnoser-client {__version__}")
        return 0
    if argv[0] == "flush" and not os.path.exists("flush"):
        return _flush(argv[1:])

    from diagnoser_client import install, runner

    if install() is None and not os.environ.get("DIAGNOSER_DISABLED"):
        url = os.environ.get("DIAGNOSER_URL", "").strip()
        problem = f"DIAGNOSER_URL={url!r} is not an http(s) URL" if url else "DIAGNOSER_URL is not set"
        sys.stderr.write(f"diagnoser: {problem}; running without crash reports.\n")
    if argv[0] == "-m":
        if len(argv) < 2:
            sys.stderr.write(USAGE)
            return 2
        return runner.run_module(argv[1], argv[2:])
    if argv[0] == "--":
        argv = argv[1:]
    return runner.run_script(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
