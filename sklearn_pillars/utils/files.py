"""Writing files so that an interrupted run never leaves a half-written one."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from ..exceptions import FolderAccessError, FolderInUseError

PART_SUFFIX = ".part"  # of the temporary files atomic_path writes


def display_name(path):
    """A path or name as printable text: undecodable bytes of a file name become U+FFFD."""
    text = os.fspath(path) if not isinstance(path, str) else path
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _os_error(cls, errno, message):
    """An OSError (or subclass) whose text is ``message`` alone, with ``errno`` kept."""
    error = cls(message)
    error.errno = errno
    return error


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; it replaces ``path`` only on success.

    Errors name ``path``, never the temporary file.

    Examples
    --------
    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("a,b\\n")
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"{display_name(path)}: folder {display_name(path.parent)} does not exist"
        )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{PART_SUFFIX}")
    try:
        # created like any new file (mode 0o666 less the umask), unlike mkstemp's private one
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if str(tmp) not in str(exc) and getattr(exc, "filename", None) != str(tmp):
            raise
        raise _os_error(
            OSError,
            exc.errno,
            f"cannot write {display_name(path)}: {exc.strerror or type(exc).__name__}",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text):
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# -- report folders: one run at a time, all or nothing ---------------------------------
LOCK_NAME = ".sklearn-pillars.lock"


STAGING_PREFIX = ".sklearn-pillars-staging-"


def _holder(lock):
    try:
        return lock.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        return "unknown"


def _acquire(folder, lock):
    """Create ``folder`` if needed, open and lock ``lock``; return its descriptor."""
    try:
        import fcntl  # POSIX only
    except ImportError:  # pragma: no cover - Windows: an exclusive create, no flock
        fcntl = None
    for _ in range(10):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # not a run's doing: a path nothing can be made at
            raise _os_error(
                FolderAccessError,
                exc.errno,
                f"cannot create or write to {display_name(folder)}: {exc.strerror}",
            ) from None
        try:
            flags = os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL)
            fd = os.open(lock, flags, 0o666)
        except FileExistsError:  # pragma: no cover - Windows
            raise FolderInUseError(_in_use(folder, lock)) from None
        except FileNotFoundError:  # a failed run removed the folder it made: make it again
            continue
        except OSError as exc:
            raise _os_error(
                FolderAccessError,
                exc.errno,
                f"cannot create or write to {display_name(folder)}: {exc.strerror}",
            ) from None
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FolderInUseError(_in_use(folder, lock)) from None
        try:  # the holder before us may have removed the file we locked: lock the new one
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise FolderInUseError(_in_use(folder, lock))  # pragma: no cover - ten races in a row


@contextmanager
def folder_lock(folder):
    """Hold an exclusive lock on ``folder`` (created if missing) while the block runs.

    The lock is a file ``.sklearn-pillars.lock`` in the folder holding the PID
    of the run; on POSIX it is also ``flock``-ed, so a run that was killed
    leaves no stale lock. A folder this created is removed again when it is
    left empty (a failed or interrupted run). Taking and releasing the lock
    are not interrupted by SIGINT or SIGTERM.

    Raises
    ------
    FolderInUseError
        At once, when another run holds the lock.
    FolderAccessError
        When the folder cannot be created or written to.
    """
    folder = Path(folder)
    lock = folder / LOCK_NAME
    created, fd = not folder.exists(), None
    try:
        with deferred_signals():
            fd = _acquire(folder, lock)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield folder
    finally:
        with deferred_signals():
            if fd is not None:
                try:
                    os.unlink(lock)
                finally:
                    os.close(fd)
            if created:
                try:
                    folder.rmdir()  # only if empty: a run that wrote nothing leaves nothing
                except OSError:
                    pass


def _in_use(folder, lock):
    return (
        f"{display_name(folder)}: in use by another sklearn-pillars run (process "
        f"{_holder(lock)}); wait for it to finish or choose another folder"
    )


def check_report_folder(folder, inputs=()):
    """``folder`` as a Path if a report may go there: not a file, not a folder of ``inputs``.

    Raises NotADirectoryError or ValueError, naming the folder.
    """
    folder = Path(os.fspath(folder))
    if folder.is_symlink() and not folder.exists():
        raise NotADirectoryError(
            f"{display_name(folder)}: a broken symbolic link (to "
            f"{display_name(Path(os.readlink(folder)))}, which does not exist); give a folder"
        )
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{display_name(folder)}: exists and is not a folder")
    if folder.is_dir() and any(Path(p).resolve().parent == folder.resolve() for p in inputs):
        raise ValueError(
            f"{display_name(folder)}: holds input files; write the report to another folder"
        )
    return folder


def is_empty_folder(folder):
    """Whether ``folder`` holds nothing but a run's lock file."""
    return not any(p.name != LOCK_NAME for p in Path(folder).iterdir())


def remove_leftovers(folder):
    """Delete what a killed run may have left in ``folder``: staging folders and ``.part`` files.

    Call it only while holding :func:`folder_lock`.
    """

    folder = Path(folder)
    for path in folder.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(f".*{PART_SUFFIX}"):
        path.unlink(missing_ok=True)


@contextmanager
def deferred_signals():
    """Hold SIGINT and SIGTERM back while the block runs; they take effect right after it.

    The Python handlers are swapped for ones that only take note, so that a signal
    already received but not yet handled cannot raise inside the block either (blocking
    it in the operating system would not stop that). Only the main thread receives
    signals; elsewhere this does nothing.
    """

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda number, frame: caught.append(number))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            handler = previous.get(caught[0], signal.SIG_DFL)
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), caught[0])


@contextmanager
def staged_report(folder, replaces, last="index.html"):
    """Yield an empty staging folder inside ``folder``; move its files in only on success.

    The move deletes the files of ``folder`` matching the glob patterns
    ``replaces`` (an earlier report), ``last`` first, and then moves the new
    files in, ``last`` last, with SIGINT and SIGTERM held back: the folder
    holds either the earlier report or the new one, never a mix, and should
    the move itself fail half-way, no ``last`` (the page) marks anything as
    complete. On failure the staging folder is deleted and ``folder`` is left
    as it was. Hold :func:`folder_lock` around it.
    """

    folder = Path(folder)
    staging = None
    try:
        with deferred_signals():
            staging = folder / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            staging.mkdir()
        yield staging
        with deferred_signals():
            old = [p for pattern in replaces for p in folder.glob(pattern)]
            for path in sorted(old, key=lambda p: p.name != last):
                path.unlink()
            for path in sorted(staging.iterdir(), key=lambda p: p.name == last):
                os.replace(path, folder / path.name)
    finally:
        with deferred_signals():
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
