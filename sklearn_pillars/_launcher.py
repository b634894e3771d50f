"""The ``sklearn-pillars`` command's entry point: it listens for Ctrl-C and SIGTERM before it
loads the package, so a run stopped while it starts says so in one line."""

import os
import signal
import sys

#: The signals received while the command loads.
_RECEIVED = []


def _stop_loading(signum, frame):
    _RECEIVED.append(signum)
    raise KeyboardInterrupt


def _stop(signum):
    """Say the run was stopped and exit at once: a module may be half imported."""
    word = "terminated" if signum == signal.SIGTERM else "interrupted"
    print(f"sklearn-pillars: {word}", file=sys.stderr)
    sys.stderr.flush()
    os._exit(128 + signum)


def run():
    """Load the command and run it (:func:`sklearn_pillars.cli.run`); it exits the process."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum, handler in handlers.items():
        # not a signal the caller chose to ignore (nohup) or handle
        if handler in (signal.default_int_handler, signal.SIG_DFL):
            signal.signal(signum, _stop_loading)
    try:
        # the command's modules load here, after the handlers: that takes a second or two
        from .cli import run as run_command
    except BaseException:
        if _RECEIVED:  # in a compiled module's initialisation it becomes an ImportError
            _stop(_RECEIVED[-1])
        raise
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    try:
        run_command()
    except KeyboardInterrupt:  # before the run listens (while it reads its arguments)
        _stop(signal.SIGINT)
