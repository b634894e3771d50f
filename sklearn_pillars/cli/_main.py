"""The ``sklearn-pillars`` command: fit a model, inspect arrays, write a report."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
import warnings

from ..exceptions import ResourceLimitError, UsageError
from ..utils.parallel import release_semaphores, stop_workers
from ._commands import cmd_evaluate, cmd_fit, cmd_inspect
from ._parser import build_parser
from ._signals import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    _interruptible,
    _show_warning,
    _stopped,
    _swallowed,
)


def main(argv=None):
    """Run the command line; return the exit code."""

    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on usage errors
    command = {"fit": cmd_fit, "inspect": cmd_inspect, "evaluate": cmd_evaluate}[args.command]
    with warnings.catch_warnings(), _interruptible():
        warnings.showwarning = _show_warning
        if args.quiet:
            warnings.simplefilter("ignore")
        try:
            return command(args)
        except (UsageError, ResourceLimitError) as exc:
            if args.debug:
                traceback.print_exc()
            print(f"sklearn-pillars {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt as exc:
            return _stopped(exc)
        except ImportError as exc:
            interrupt = _swallowed()
            if interrupt is not None:  # an interrupt in a module's initialisation becomes
                return _stopped(interrupt)  # "ImportError: initialization failed"
            if args.debug:
                traceback.print_exc()
            print(
                f"sklearn-pillars: error: {exc}; install the command's extras with "
                "pip install 'sklearn-pillars[cli]'",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        except Exception as exc:  # any failure of the run: one line, no traceback
            interrupt = _swallowed()
            if interrupt is not None:  # a failure that followed an interrupt: report that
                return _stopped(interrupt)
            if args.debug:
                traceback.print_exc()
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"sklearn-pillars {args.command}: error: {message}", file=sys.stderr)
            return EXIT_FAILURE


#: Seconds a stopped run waits for the threads that manage its (killed) workers.
STOP_WAIT = 0.5


def run(argv=None):
    """The ``sklearn-pillars`` command as a process: run :func:`main` and exit with its code.

    A run stopped by Ctrl-C or SIGTERM has cleaned up when :func:`main`
    returns; it then kills its worker processes and exits at once,
    without the interpreter's teardown: a signal can land anywhere in a
    compiled library, and once (in CI; not in 300 runs here) the teardown
    after it aborted the process ("Fatal Python error: PyThreadState_Get").
    A run that ended otherwise ignores both signals while the interpreter
    tears down: its work is done, and its exit code says how it went.
    """
    code = main(argv)
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        stop_workers()
        # As the interpreter's exit does, but not for long: with its workers killed, loky's
        # thread can wait forever on a pipe to them (a call it was still sending).
        deadline = time.monotonic() + STOP_WAIT
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join(max(0.0, deadline - time.monotonic()))
        release_semaphores()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    # The run is over (its report written, or its error said): a Ctrl-C or SIGTERM from
    # here on would only break into the interpreter's teardown, which joins the worker
    # pool's threads, with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
