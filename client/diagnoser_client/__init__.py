"""diagnoser-client: report training crashes to a Diagnoser service and print the named cause under the traceback.

One line in a script::

    import diagnoser_client; diagnoser_client.install()     # DIAGNOSER_URL / DIAGNOSER_TOKEN from the environment

or no code at all::

    python -m diagnoser_client train.py --epochs 3

Standard library only, and cheap to adopt: importing it and install() only read the settings and set the hooks
(no HTTP, JSON or logging module is imported until there is something to report; Keras only with
diagnoser_client.keras). tests/client/test_client_import_cost.py checks it; benchmarks/bench_client_import.py
measures it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which costs a bare interpreter milliseconds
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "flush", "install", "uninstall", "watch"]


def install(url: str | None = None, token: str | None = None, **options: Any) -> Any:
    """Report uncaught exceptions (main thread, other threads, IPython/Jupyter) to the service.

    Options (each also a DIAGNOSER_* variable): send_source, tags, run_id, connect_timeout, timeout,
    spool_dir, spool_max_files, spool_max_bytes, flush_spool, print_diagnosis, dedup_ranks, enabled.
    """
    from diagnoser_client.hooks import install as _install

    return _install(url=url, token=token, **options)


def uninstall() -> None:
    """Restore the hooks install() replaced."""
    from diagnoser_client.hooks import uninstall as _uninstall

    _uninstall()


def watch(model: Any) -> Any:
    """Remember `model` (Keras or PyTorch) and the shapes its fit/evaluate/predict calls receive; returns it."""
    from diagnoser_client.watching import watch as _watch

    return _watch(model)


def flush(url: str | None = None, token: str | None = None, force: bool = False, **options: Any) -> dict[str, Any]:
    """Resend the spooled reports now; returns the counts after flushing: {"delivered", "dropped", "kept",
    "waiting" (still spooled), "not_before" (epoch seconds the service asked to wait until, or None)}.
    Before that time nothing is sent, unless `force`."""
    from diagnoser_client import config
    from diagnoser_client.delivery import Delivery

    return Delivery(config.load(dict(options, url=url, token=token))).flush_spool(force=force)
