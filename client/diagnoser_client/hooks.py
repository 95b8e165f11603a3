"""install() / uninstall(): wrap sys.excepthook, threading.excepthook and IPython's exception handler.

As in sentry-python's excepthook integration, each wrapper calls the hook it replaced first, always, so the
user's traceback prints exactly as before, then reports. uninstall() puts the previous hooks back when ours
are still the current ones; when someone wrapped ours since, ours stay in their chain but become
pass-through, so their hook keeps working.

install() reads the settings and sets the hooks, nothing more: no HTTP module, no JSON, no logging is imported until
a report is built (see the import-cost test and benchmarks/bench_client_import.py).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from diagnoser_client import config as config_module
from diagnoser_client._log import logger
from diagnoser_client.client import Client

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


class _State:
    client: Client | None = None
    sys_hook: Callable[..., Any] | None = None
    previous_sys_hook: Callable[..., Any] | None = None
    thread_hook: Callable[..., Any] | None = None
    previous_thread_hook: Callable[..., Any] | None = None
    ipython: Any = None
    ipython_previous: Any = None


_state = _State()
_lock = threading.RLock()


def current() -> Client | None:
    return _state.client


def install(url: str | None = None, token: str | None = None, **options: Any) -> Client | None:
    """Report uncaught exceptions to the Diagnoser service at `url` (or DIAGNOSER_URL).

    Returns the client, or None when reporting is off (no URL, or DIAGNOSER_DISABLED=1). Calling it again
    replaces the settings. Unknown options raise TypeError: that is a typo in the caller's code, found at
    start-up rather than at the crash.
    """
    settings = config_module.load(dict(options, url=url, token=token))
    with _lock:
        if not settings.enabled or not settings.url:
            if not settings.url:
                logger.warning("no DIAGNOSER_URL: crash reports are off")
            return None
        if _state.client is not None:
            if _state.client.config == settings:
                return _state.client  # installed twice (script + `python -m diagnoser_client`): nothing to do
            uninstall()
        client = Client(settings)
        _state.client = client
        try:
            _install_sys_hook(client)
            _install_thread_hook(client)
            _install_ipython_hook(client)
            atexit.register(_at_exit)
            if settings.flush_spool and _has_spooled_reports(settings.spool_dir):
                client.delivery.flush_spool_in_background()
        except Exception:
            logger.warning("could not install every hook", exc_info=True)
        return client


def _has_spooled_reports(folder: str) -> bool:
    """Whether any report waits in the spool (as spool.Spool.entries() counts them), without importing it."""
    try:
        with os.scandir(folder) as entries:
            return any(e.name.endswith(".json") and not e.name.startswith(".") for e in entries)
    except OSError:
        return False


def uninstall() -> None:
    """Put back the hooks install() replaced. Reports in flight still finish (bounded)."""
    with _lock:
        client = _state.client
        if client is None:
            return
        _state.client = None
        if sys.excepthook is _state.sys_hook:
            sys.excepthook = _state.previous_sys_hook or sys.__excepthook__
        if getattr(threading, "excepthook", None) is _state.thread_hook and _state.previous_thread_hook:
            threading.excepthook = _state.previous_thread_hook
        if _state.ipython is not None:
            _uninstall_ipython_hook()
        _state.sys_hook = _state.thread_hook = None
        _state.previous_sys_hook = _state.previous_thread_hook = None
        try:
            atexit.unregister(_at_exit)
        except Exception:
            pass
    client.flush_at_exit()


def _at_exit() -> None:
    client = _state.client
    if client is not None:
        client.flush_at_exit()


def _install_sys_hook(client: Client) -> None:
    previous = sys.excepthook

    def diagnoser_excepthook(exc_type: type, exc: BaseException, tb: Any) -> None:
        try:
            previous(exc_type, exc, tb)
        finally:
            if _state.client is client:
                client.report_exception(exc_type, exc, tb, wait=True)

    _state.previous_sys_hook = previous
    _state.sys_hook = diagnoser_excepthook
    sys.excepthook = diagnoser_excepthook


def _install_thread_hook(client: Client) -> None:
    previous = getattr(threading, "excepthook", None)
    if previous is None:  # Python < 3.8
        return

    def diagnoser_thread_excepthook(args: Any) -> None:
        try:
            previous(args)
        finally:
            if _state.client is client and args.exc_value is not None:
                name = getattr(args.thread, "name", None)
                # The program goes on: send in the background; the exit flush waits for it.
                client.report_exception(args.exc_type, args.exc_value, args.exc_traceback, wait=False, thread=name)

    _state.previous_thread_hook = previous
    _state.thread_hook = diagnoser_thread_excepthook
    threading.excepthook = diagnoser_thread_excepthook


def _get_ipython() -> Any:
    """The running IPython shell, if any; never imports IPython."""
    module = sys.modules.get("IPython")
    getter = getattr(module, "get_ipython", None)
    try:
        return getter() if callable(getter) else None
    except Exception:
        return None


def _install_ipython_hook(client: Client) -> None:
    """IPython and Jupyter catch exceptions themselves: sys.excepthook never runs, a custom handler does."""
    shell = _get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return
    previous_types = tuple(getattr(shell, "custom_exceptions", ()) or ())
    previous_handler = getattr(shell, "CustomTB", None)

    def diagnoser_ipython_handler(self: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> Any:
        try:
            if previous_types and previous_handler is not None and issubclass(etype, previous_types):
                previous_handler(etype, value, tb, tb_offset=tb_offset)
            else:
                self.showtraceback((etype, value, tb), tb_offset=tb_offset)
        finally:
            if _state.client is client:
                client.report_exception(etype, value, tb, wait=True, stream=sys.stderr)
        return None

    _state.ipython = shell
    _state.ipython_previous = (previous_types, previous_handler)
    shell.set_custom_exc((Exception,), diagnoser_ipython_handler)


def _uninstall_ipython_hook() -> None:
    shell, (types, handler) = _state.ipython, _state.ipython_previous
    try:
        shell.custom_exceptions = types
        shell.CustomTB = handler
    except Exception:
        logger.warning("could not restore IPython's exception handler", exc_info=True)
    _state.ipython = _state.ipython_previous = None
