"""The process pool that classifies many arrays, and ordered results from it or from Dask.

The pool is kept between calls (starting workers costs more than most arrays), and
results come back in the order of the calls whatever the order they finish in."""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import warnings
from collections import deque
from itertools import islice

import cv2
from joblib import cpu_count, effective_n_jobs
from joblib.externals.loky import get_reusable_executor
from threadpoolctl import threadpool_limits

from .validation import check_n_jobs


def worker_count(n_jobs, n_tasks=None):
    """How many worker processes ``n_jobs`` starts for ``n_tasks`` tasks: joblib's count,
    at most one per CPU and one per task (more would only wait, each holding memory)."""
    wanted = effective_n_jobs(check_n_jobs(n_jobs))
    cap = cpu_count()  # joblib's: the CPUs this process may use (affinity, cgroups)
    if n_tasks is not None:
        cap = min(cap, max(1, n_tasks))
    return max(1, min(wanted, cap))


def capped_n_jobs(n_jobs, n_tasks=None, *, name="n_jobs", stacklevel=3):
    """:func:`worker_count` of ``n_jobs``, with a UserWarning naming ``name`` when it is
    fewer than a count asked for explicitly; returns it as an ``n_jobs``."""
    workers = worker_count(n_jobs, n_tasks)
    asked = check_n_jobs(n_jobs, name)
    if asked is not None and asked > workers:
        reasons = f"{cpu_count()} CPUs" + ("" if n_tasks is None else f", {n_tasks} array(s)")
        warnings.warn(
            f"{name} {asked}: starting {workers} worker process(es) ({reasons}); more would "
            "only wait, each holding memory",
            UserWarning,
            stacklevel=stacklevel,
        )
    return workers


def single_threaded(function, *args):
    """``function(*args)`` with one thread for BLAS and OpenCV: in a worker process, where
    two processes with a thread pool each would oversubscribe the cores."""

    cv2.setNumThreads(1)
    with threadpool_limits(limits=1):
        return function(*args)


def in_order(function, first, calls, *, n_jobs=None, client=None, keep_workers=True):
    """Yield ``function(first, *call)`` for each of ``calls``, in order.

    Here (``n_jobs`` None or 1), in ``n_jobs`` worker processes (loky, as joblib; at
    most one per CPU and per call, :func:`worker_count`), or as tasks on a Dask
    cluster (``client``; ``first``, the large argument such as the model, goes to
    every worker once). Workers are single-threaded, and two calls per worker are in
    flight at a time, so finished results never pile up however slowly they are
    consumed. On an error or an interrupt, Dask's calls not started are cancelled,
    and loky's workers stop after the few calls they hold. Without ``keep_workers``,
    loky's workers are also stopped when all calls are done, to free their memory
    for what follows.
    """

    if client is None:
        n_jobs = worker_count(n_jobs, len(calls) if hasattr(calls, "__len__") else None)
    if client is None and n_jobs == 1:
        for call in calls:
            yield function(first, *call)
        return
    if client is not None:
        [first] = client.scatter([first], broadcast=True, hash=False)
        window = 2 * max(1, sum(client.nthreads().values()))

        def submit(call):
            return client.submit(single_threaded, function, first, *call, pure=False)
    else:
        executor = _workers(n_jobs)
        window = 2 * effective_n_jobs(n_jobs)

        def submit(call):
            return executor.submit(single_threaded, function, first, *call)

    calls = iter(calls)
    pending = deque(submit(call) for call in islice(calls, window))
    finished = False
    try:
        while pending:
            result = pending[0].result()
            pending.popleft()
            pending.extend(submit(call) for call in islice(calls, 1))
            yield result
        finished = True
    finally:
        if client is not None:
            for future in pending:
                future.cancel()
        elif not finished or not keep_workers:
            # The workers finish the few calls they hold (a second or two) and stop; an
            # exit stops them at once (stop_workers). Not cancel() nor kill_workers: both
            # race loky's own thread over those calls (InvalidStateError, KeyError).
            executor.shutdown(wait=finished)


# loky's executors this process used, for stop_workers
_EXECUTORS = []


def _workers(n_jobs):
    """loky's reusable executor of ``n_jobs`` worker processes (started if need be)."""

    executor = get_reusable_executor(max_workers=effective_n_jobs(n_jobs))
    if not any(known is executor for known in _EXECUTORS):
        _EXECUTORS.append(executor)
    return executor


def stop_workers():
    """Stop the worker processes this process started, at once, whatever they hold.

    For a process about to exit. They are killed as a crashed worker would
    be: loky's thread that manages them then fails their calls and closes its
    queues, a path it is built for (its own ``kill_workers`` races that thread
    over the calls still queued, with a KeyError). That thread is not a
    daemon: the interpreter's exit waits for it, and so must an exit that
    bypasses it.
    """
    while _EXECUTORS:
        _EXECUTORS.pop().shutdown(wait=False)
    for child in multiprocessing.active_children():
        try:
            os.kill(child.pid, signal.SIGKILL)  # loky's process has no kill()
        except ProcessLookupError:
            pass


def release_semaphores():
    """Unlink the semaphores of the worker pools' queues, as the interpreter's exit does.

    For an exit that bypasses it (``os._exit``): otherwise loky's resource
    tracker warns of "leaked semlock objects". Only multiprocessing's exit
    finalizers of priority 0 and up run (closing queues, unlinking
    semaphores), not those that join the threads feeding the queues: with the
    workers stopped, those could wait forever.
    """
    multiprocessing.util._run_finalizers(0)


def start_workers(n_jobs):
    """Start the worker processes of ``n_jobs`` (loky's, as :func:`iter_inspect` uses) now.

    They take a second or two to start and import the package: started
    before other work of a run (loading a model, checking its inputs), they
    are ready when the arrays come.
    """

    n_jobs = worker_count(n_jobs)
    if n_jobs > 1:
        executor = _workers(n_jobs)
        for _ in range(n_jobs):
            executor.submit(single_threaded, int)  # imports this module in the worker
