"""Interrupts: Ctrl-C and SIGTERM stop a run promptly, without a traceback, and the exit
codes say which."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run stops and cleans up."""


# Interrupts of this run: every signal received, and those Python could not raise (in a
# weakref callback or __del__ it prints and drops the exception, see _unraisable).
_RECEIVED, _PENDING = [], []


def _interrupt(signum, frame):
    _RECEIVED.append(signum)
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def _unraisable(unraisable, default=sys.unraisablehook):
    """Keep an interrupt that hit a weakref callback or ``__del__`` for the next checkpoint."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _PENDING.append(unraisable.exc_value)
        return
    default(unraisable)


def _swallowed():
    """The interrupt of this run that did not stop it (None if there was none)."""
    if _PENDING:
        return _PENDING.pop()
    if _RECEIVED:  # raised, but caught somewhere along the way
        return Terminated() if _RECEIVED[-1] == signal.SIGTERM else KeyboardInterrupt()
    return None


def checkpoint():
    """Raise an interrupt of this run that was swallowed on its way up."""
    interrupt = _swallowed()
    if interrupt is not None:
        raise interrupt


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line on stderr, without the source line Python adds."""
    print(f"sklearn-pillars: warning: {message}", file=sys.stderr)


@contextmanager
def _interruptible():
    """While the block runs (in the main thread): SIGTERM stops the run like Ctrl-C, and no
    interrupt gets lost on its way up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {
        signal.SIGTERM: signal.getsignal(signal.SIGTERM),
        signal.SIGINT: signal.getsignal(signal.SIGINT),
    }
    hook = sys.unraisablehook
    _RECEIVED.clear()
    _PENDING.clear()
    signal.signal(signal.SIGTERM, _interrupt)
    if handlers[signal.SIGINT] is signal.default_int_handler:  # not when ignored (nohup)
        signal.signal(signal.SIGINT, _interrupt)
    sys.unraisablehook = _unraisable
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        sys.unraisablehook = hook


def _stopped(interrupt):
    """The message and exit code of a run stopped by Ctrl-C (130) or SIGTERM (143)."""
    if isinstance(interrupt, Terminated):
        print("sklearn-pillars: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    print("sklearn-pillars: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED
