"""`python -m diagnoser_client train.py [args]`: run any script under the crash hook, with no code change.

`python -m diagnoser_client -m package.module [args]` runs a module; `python -m diagnoser_client flush`
resends the reports spooled while the service was unreachable.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

USAGE = """\
usage: python -m diagnoser_client SCRIPT [ARGS...]     run SCRIPT under the crash hook
       python -m diagnoser_client -m MODULE [ARGS...]  run a module likewise
       python -m diagnoser_client flush                resend the spooled reports now
       python -m diagnoser_client --version

Settings come from the environment: DIAGNOSER_URL, DIAGNOSER_TOKEN, DIAGNOSER_SPOOL_DIR, ...
"""


def _flush() -> int:
    from diagnoser_client import config
    from diagnoser_client.delivery import Delivery

    settings = config.load()
    delivery = Delivery(settings)
    waiting = len(delivery.spool)
    counts = delivery.flush_spool()
    print(
        f"diagnoser: {counts['delivered']} delivered, {counts['kept']} kept, {counts['dropped']} dropped "
        f"({waiting} waiting in {settings.spool_dir})"
    )
    return 0 if counts["kept"] == 0 else 1


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    if argv[0] == "--version":
        from diagnoser_client import __version__

        print(f"diagnoser-client {__version__}")
        return 0
    if argv[0] == "flush" and not os.path.exists("flush"):
        return _flush()

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
