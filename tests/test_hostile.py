"""Hostile and meaningless input: bounded memory, no code from model files, all-or-nothing
reports, one run per folder, no confident answers on images that are not pillar arrays.

Every command runs in a subprocess, so its exit code, its messages, its peak memory
(its own high-water mark) and what it leaves on disk are all observed.
"""

import csv
import ctypes
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_pillars import (
    LayeredPeelClassifier,
    NotAnArrayError,
    ResourceLimitError,
    make_pillar_arrays,
    read_arrays,
    tile_array,
)
from sklearn_pillars.exceptions import ModelFileError
from sklearn_pillars.peel import load_model, save_model
from sklearn_pillars.utils.files import LOCK_NAME, STAGING_PREFIX, atomic_path

GiB = 2**30
MEMORY_CEILING = 2 * GiB  # no case may exceed it
GRID = 9  # small arrays keep the many subprocess runs quick


class Run:
    """A finished command: exit code, output, peak memory (bytes), wall and CPU time (s)."""

    def __init__(self, code, out, err, peak, seconds, cpu=0.0):
        self.code, self.out, self.err, self.peak = code, out, err, peak
        self.seconds, self.cpu = seconds, cpu

    def __repr__(self):
        return (
            f"Run(code={self.code}, peak={self.peak / 2**20:.0f} MiB, "
            f"{self.seconds:.1f} s, cpu {self.cpu:.2f} s, err={self.err!r})"
        )


def _default_signals():
    """In the child: Ctrl-C and SIGTERM as in a terminal, even when the tests run in the
    background (where SIGINT is inherited as ignored, and Python then installs no handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _without_root_file_access():
    """In the child, as root: be bound by file permissions like any other user.

    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH leave the capability bounding set (Linux), so
    the command it then executes starts without them; the tests' files stay root's own.
    """
    _default_signals()
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if _LIBC.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def start(*args, cwd=None, session=False, as_plain_user=False):
    """Start the command; with ``session``, in a session of its own (its workers' too);
    with ``as_plain_user``, bound by file permissions even when the tests run as root."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    argv = [sys.executable, "-m", "sklearn_pillars"] + [
        a if isinstance(a, bytes) else str(a) for a in args
    ]
    proc = subprocess.Popen(
        argv,
        stdout=out,
        stderr=err,
        cwd=cwd,
        preexec_fn=_without_root_file_access
        if as_plain_user and os.geteuid() == 0
        else _default_signals,
        start_new_session=session,
    )
    proc.files = (out, err)
    proc.started = time.perf_counter()
    proc.high_water = [0]
    if Path(f"/proc/{proc.pid}/status").exists():
        threading.Thread(target=_watch_high_water, args=(proc,), daemon=True).start()
    return proc


def _watch_high_water(proc):
    """Follow the process's own peak (VmHWM) until it exits (Linux).

    Its ``ru_maxrss`` would do, but for a forked child it also counts this test process's
    pages from before the exec, so it is never below the test process's own size.
    """
    while True:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        except (OSError, StopIteration, ValueError):  # gone, or a zombie
            return
        proc.high_water[0] = max(proc.high_water[0], kib * 1024)
        time.sleep(0.02)


def finish(proc, timeout=300):
    """Wait for ``proc`` and measure its own peak memory with wait4."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - proc.started
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    texts = []
    for f in proc.files:
        f.seek(0)
        texts.append(f.read().decode("utf-8", "replace"))
        f.close()
    # the followed peak misses at most the last 20 ms; ru_maxrss where it cannot be followed
    peak = proc.high_water[0] or usage.ru_maxrss * scale
    cpu = usage.ru_utime + usage.ru_stime
    return Run(proc.returncode, texts[0], texts[1], peak, seconds, cpu)


def cli(*args, **kwargs):
    return finish(start(*args, **kwargs))


def finish_all(procs):
    """Wait for several processes at once, so that each one's time is its own."""
    results = [None] * len(procs)

    def wait(i):
        results[i] = finish(procs[i])

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(procs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def running(proc):
    """Whether ``proc`` is still running, without reaping it (wait4 measures it later)."""
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def assert_clean_failure(run, code, *words):
    """The exit code, one line naming the problem, no traceback, within the memory ceiling."""
    assert run.code == code, run
    assert "Traceback" not in run.err, run.err
    errors = [line for line in run.err.splitlines() if "error:" in line]
    assert len(errors) == 1, run.err
    for word in words:
        assert word in errors[0], run.err
    assert run.peak < MEMORY_CEILING, run


# A refusal is judged by what it spends beyond the command's start-up (the interpreter and
# the NumPy, scikit-learn and OpenCV imports: about 1.3 s of CPU and 180 MiB here), never by
# wall time, which a loaded machine stretches. Refusing takes < 0.2 s of CPU and < 20 MiB
# beyond start-up on this 2-core VM; reading a 3 GB file, decoding a 100,000-pixel-wide PNG
# or tiling a 1000 x 1000 grid takes seconds and hundreds of MiB.
REFUSAL_CPU = 1.0  # seconds of CPU beyond start-up
REFUSAL_MEMORY = 64 * 2**20  # bytes of peak memory beyond start-up


class StartUp:
    """The command's cost before it does anything: CPU seconds and peak memory."""

    def __init__(self, cpu, peak):
        self.cpu, self.peak = cpu, peak

    def __repr__(self):
        return f"StartUp(cpu {self.cpu:.2f} s, peak {self.peak / 2**20:.0f} MiB)"


@pytest.fixture(scope="module")
def start_up():
    """``inspect --help``: it loads every module a run loads, then exits (median of 3)."""
    runs = [cli("inspect", "--help") for _ in range(3)]
    assert all(run.code == 0 and "--out" in run.out for run in runs), runs
    return StartUp(sorted(run.cpu for run in runs)[1], sorted(run.peak for run in runs)[1])


def assert_refused_early(run, start_up):
    """Refused before any real work: little CPU and no large allocation beyond start-up."""
    assert run.cpu - start_up.cpu < REFUSAL_CPU, (run, start_up)
    assert run.peak - start_up.peak < REFUSAL_MEMORY, (run, start_up)


def leftovers(folder):
    """Files a run must never leave: partial files, staging folders, locks."""
    folder = Path(folder)
    if not folder.exists():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.endswith(".part") or p.name.startswith(STAGING_PREFIX) or p.name == LOCK_NAME
    )


def report_arrays(folder):
    with open(Path(folder) / "tiles.csv", newline="", encoding="utf-8") as f:
        return {row["array"] for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    """Two small synthetic arrays as PNG files: x.png and y.png."""
    folder = tmp_path_factory.mktemp("hostile_arrays")
    tiles = make_pillar_arrays(n_arrays=2, grid_size=GRID, random_state=0)
    paths = []
    for name, image in zip("xy", tiles.array_images, strict=True):
        paths.append(folder / f"{name}.png")
        assert cv2.imwrite(str(paths[-1]), image)
    return paths


@pytest.fixture(scope="module")
def skops_model(arrays, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "pillars.skops"
    run = cli("fit", *arrays, "--grid-size", GRID, "--model", path, "-q")
    assert run.code == 0, run
    return path


# -- 1. memory is bounded: refused from the header in seconds, or run within the limit ------
def _sparse(path, size, head=b""):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def _bmp_header(width, height, bits=24):
    import struct

    row = (width * bits // 8 + 3) // 4 * 4
    return (
        b"BM"
        + struct.pack("<IHHI", 54 + row * height, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, row * height, 2835, 2835, 0, 0)
    )


def _bomb_png(path, width, height):
    """A tiny PNG whose header claims ``width x height`` pixels (a decompression bomb)."""
    import struct
    import zlib

    ok, data = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    data = bytearray(data.tobytes())
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "case",
    [
        "bomb-png-header",
        "grid-1000",
        "tile-half-1000",
        "tile-half-1000-auto",
        "tile-half-huge-number",
        "sparse-3GB-not-an-image",
        "sparse-3GB-bmp-header",
        "over-max-memory",
        "20000px-png-over-max-memory",
    ],
)
@pytest.mark.slow
def test_oversized_requests_are_refused_before_any_work(case, arrays, tmp_path, start_up):
    out = tmp_path / "out"
    big_png = tmp_path / "big.png"
    if case.startswith("20000px"):
        # a 20,000 x 20,000 grey PNG of a few hundred kB
        image = np.zeros((20000, 20000), np.uint8)
        assert cv2.imwrite(str(big_png), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        del image
    cases = {
        "bomb-png-header": (
            ["inspect", _bomb_png(tmp_path / "bomb.png", 100000, 100000), "--max-memory", "4G"],
            ["bomb.png", "100000 x 100000", "memory"],
        ),
        "grid-1000": (["inspect", arrays[0], "--grid-size", "1000"], ["pitch", "grid"]),
        "tile-half-1000": (
            ["inspect", arrays[0], "--grid-size", GRID, "--tile-half", "1000"],
            ["tile_half=1000", "pitch"],
        ),
        # the found lattice's pitch is known once the image is read: the run fails then
        "tile-half-1000-auto": (
            ["inspect", arrays[0], "--tile-half", "1000"],
            ["tile_half=1000", "pitch"],
        ),
        "tile-half-huge-number": (
            ["inspect", arrays[0], "--tile-half", "99999999999999999999"],
            ["--tile-half", "whole number"],
        ),
        "sparse-3GB-not-an-image": (
            ["inspect", _sparse(tmp_path / "z.bmp", 3 * GiB)],
            ["z.bmp", "not a recognised image"],
        ),
        "sparse-3GB-bmp-header": (
            [
                "inspect",
                _sparse(tmp_path / "h.bmp", 3 * GiB, _bmp_header(40000, 25000)),
                "--max-memory",
                "4G",
            ],
            ["h.bmp", "memory", "limit"],
        ),
        "over-max-memory": (
            ["inspect", *arrays, "--grid-size", GRID, "--max-memory", "20M"],
            ["memory", "20.0 MiB"],
        ),
        "20000px-png-over-max-memory": (
            ["inspect", big_png, "--max-memory", "1G"],
            ["big.png", "20000 x 20000", "memory"],
        ),
    }
    args, words = cases[case]
    code = 1 if case in ("sparse-3GB-not-an-image", "tile-half-1000-auto") else 2
    run = cli(*args, "--out", out)
    assert_clean_failure(run, code, *words)
    assert_refused_early(run, start_up)
    assert not out.exists()  # refused before anything was written


def test_a_huge_file_behind_a_small_header_is_not_read(tmp_path, start_up):
    path = _sparse(tmp_path / "small.bmp", 3 * GiB, _bmp_header(100, 100))
    run = cli("inspect", path, "--out", tmp_path / "o")
    assert_clean_failure(run, 1, "small.bmp", "far more than", "100 x 100")
    assert_refused_early(run, start_up)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_the_demo_is_checked_before_it_is_rendered(tmp_path, start_up):
    run = cli("inspect", "--demo", "--grid-size", "1000", "--out", tmp_path / "o")
    assert_clean_failure(run, 2, "--demo", "memory")
    assert_refused_early(run, start_up)
    run = cli("inspect", "--demo", "--tile-half", "1000", "--out", tmp_path / "o")
    assert_clean_failure(run, 2, "--demo", "tile_half=1000")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_20000px_image_runs_within_the_memory_ceiling(tmp_path, start_up):
    """Not refused (it fits the default limit): read, checked and rejected as blank in < 2 GB."""
    path = tmp_path / "big.png"
    assert cv2.imwrite(
        str(path), np.zeros((20000, 20000), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9]
    )
    assert path.stat().st_size < 2**20
    run = cli("inspect", path, "--grid-size", "21", "--out", tmp_path / "o", "--max-memory", "2G")
    assert_clean_failure(run, 1, "big.png", "blank")
    assert not (tmp_path / "o").exists()
    # finding its lattice (the default) would need more than 2 GB: refused before reading
    run = cli("inspect", path, "--out", tmp_path / "o", "--max-memory", "2G")
    assert_clean_failure(run, 2, "big.png", "memory")
    assert_refused_early(run, start_up)
    assert not (tmp_path / "o").exists()


def test_the_defect_map_of_a_huge_image_draws_a_bounded_number_of_pixels(tmp_path):
    import tracemalloc

    from sklearn_pillars.report import defect_map, shrink
    from sklearn_pillars.report._maps import FIGURE_PIXELS

    image = np.random.default_rng(0).integers(0, 255, (8000, 8000), dtype=np.uint8)
    small, factor = shrink(image)
    assert small.size <= FIGURE_PIXELS and factor == 4
    positions = np.array([(r, c) for r in range(1, 22) for c in range(1, 22)])
    labels = np.array(["Good", "Missing", "Irregular"] * 147)
    tracemalloc.start()
    defect_map(tmp_path / "map.png", image, "huge", 21, positions, labels)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # matplotlib resamples an image as float RGBA: 64 Mpixel at full size would be gigabytes
    assert peak < 400 * 2**20, peak / 2**20
    assert cv2.imread(str(tmp_path / "map.png")).shape[1] < 2000


def test_read_arrays_takes_a_memory_limit(arrays):
    with pytest.raises(ResourceLimitError, match="more than the limit of 1.0 MiB"):
        read_arrays(arrays, GRID, max_memory="1M")
    assert len(read_arrays(arrays, GRID, max_memory="2G")) == 2 * GRID**2


# -- 2. model files: no code runs from a .joblib file unless trusted ----------------------
class Payload:
    """Unpickling this creates a file: the stand-in for arbitrary code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def malicious_joblib(skops_model, tmp_path):
    model, info = load_model(skops_model)
    marker = tmp_path / "payload-ran"
    record = {
        "format": "sklearn-pillars model",
        "version": info["version"],
        "grid_size": info["grid_size"],
        "tile_half": info["tile_half"],
        "preset": info["preset"],
        "model": model,
        "extra": Payload(marker),
    }
    path = tmp_path / "evil.joblib"
    with open(path, "wb") as f:
        pickle.dump(record, f)
    return path, marker


@pytest.mark.slow
def test_a_malicious_joblib_runs_no_code_without_trust(malicious_joblib, arrays, tmp_path):
    path, marker = malicious_joblib
    run = cli("inspect", arrays[0], "--model", path, "--out", tmp_path / "o")
    assert_clean_failure(run, 2, "evil.joblib", "--trust-model", ".skops")
    assert not marker.exists(), "the payload ran"
    assert not (tmp_path / "o").exists()
    with pytest.raises(ModelFileError, match="runs whatever code.*trusted=True"):
        load_model(path)
    assert not marker.exists(), "the payload ran"
    # trusted, it is loaded (and its code runs): the user said so
    run = cli("inspect", arrays[0], "--model", path, "--trust-model", "--out", tmp_path / "o")
    assert run.code == 0, run
    assert marker.exists()


def test_a_trusted_joblib_that_is_not_a_model_says_its_code_ran(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "junk.joblib"
    with open(path, "wb") as f:
        pickle.dump({"hello": Payload(marker)}, f)
    with pytest.raises(ModelFileError, match="not an sklearn-pillars model.*code it held has run"):
        load_model(path, trusted=True)


@pytest.mark.parametrize(
    "model, grid, tile_half, error, message",
    [
        (LayeredPeelClassifier(), 21, 32, NotFittedError, "fitted model"),
        ("hello", 21, 32, TypeError, "LayeredPeelClassifier"),
        (None, 0, 32, ValueError, "grid_size"),
        (None, 21, 16, ValueError, "tile_half=16 .* fitted on rows of 4101"),
    ],
)
def test_save_model_accepts_only_fitted_models(model, grid, tile_half, error, message, tmp_path):
    if model is None:
        model = LayeredPeelClassifier().fit(make_pillar_arrays(1, GRID, random_state=0).X)
    with pytest.raises(error, match=message):
        save_model(model, tmp_path / "m.skops", grid_size=grid, tile_half=tile_half)
    assert list(tmp_path.iterdir()) == []


# -- runs watched step by step ----------------------------------------------------------
def _snapshot(folder):
    """Every file's bytes, and every folder's list of names."""
    return {
        p.name: p.read_bytes() if p.is_file() else sorted(c.name for c in p.iterdir())
        for p in sorted(Path(folder).iterdir())
    }


def _wait_for(folder, pattern, proc, timeout=60):
    """Until a file matching ``pattern`` is in ``folder``: the run announces a step."""
    deadline = time.perf_counter() + timeout
    while running(proc) and time.perf_counter() < deadline:
        if any(Path(folder).glob(pattern)):
            return
        time.sleep(0.002)
    why = "timed out" if running(proc) else "ended"
    raise AssertionError(f"the run {why} before it made {pattern} in {folder}")


# The steps a run announces by the files it makes, and the time left to it after each as
# measured here (one array of 9 x 9, idle 2-core VM): 0.55 s or more, against the few
# milliseconds the test takes to see the file and send the signal, so each signal lands
# mid-run.
MID_RUN = {
    "lock file made": LOCK_NAME,  # 1.2 s left
    "report staged": f"{STAGING_PREFIX}*",  # 1.06 s
    "tables written": f"{STAGING_PREFIX}*/tiles.csv",  # 1.06 s
    "galleries drawn": f"{STAGING_PREFIX}*/gallery_Good.png",  # 1.0 s
    "first stage figure drawn": f"{STAGING_PREFIX}*/stage_missing.png",  # 0.67 s
    "second stage figure drawn": f"{STAGING_PREFIX}*/stage_collapsed.png",  # 0.55 s
}
# Ctrl-C and SIGTERM stop a run within a second, as the README promises: 0.02-0.05 s measured
# here with both cores kept busy, so the promise itself is the bound (a 20x margin).
STOP_WITHIN = 1.0


# -- 3. one run per folder -------------------------------------------------------------
def _report_of_one_run(out, names):
    """The report in ``out`` is one run's, whole: one of ``names``, and nothing left over."""
    arrays = report_arrays(out)
    assert len(arrays) == 1 and arrays <= set(names), arrays
    (name,) = arrays
    assert sorted(p.name for p in out.glob("map_*.png")) == [f"map_{name}.png"]
    assert f"map_{name}.png" in (out / "index.html").read_text(encoding="utf-8")
    assert leftovers(out) == []
    return name


@pytest.mark.slow
def test_a_run_into_a_folder_in_use_is_refused(arrays, tmp_path, start_up):
    """Deterministic: the first run is held (SIGSTOP) while it has the folder's lock."""
    out = tmp_path / "shared"
    for first, second in (arrays, arrays[::-1]):
        holder = start("inspect", first, "--grid-size", GRID, "--out", out, "--force", "-q")
        # staged: by then it holds the lock (the lock file exists a moment before it is held)
        _wait_for(out, MID_RUN["report staged"], holder)
        os.kill(holder.pid, signal.SIGSTOP)
        try:
            os.waitid(os.P_PID, holder.pid, os.WSTOPPED | os.WNOWAIT)  # until it has stopped
            before = _snapshot(out)
            loser = cli("inspect", second, "--grid-size", GRID, "--out", out, "--force", "-q")
            assert _snapshot(out) == before  # the loser changed nothing
        finally:
            os.kill(holder.pid, signal.SIGCONT)
        assert_clean_failure(loser, 2, "in use", f"process {holder.pid}")
        assert_refused_early(loser, start_up)  # before reading its array
        assert finish(holder).code == 0
        assert _report_of_one_run(out, [first.stem]) == first.stem


@pytest.mark.slow
def test_runs_started_together_leave_one_runs_report(arrays, tmp_path):
    """Whether they overlap is up to the machine; either way the report is one run's, whole."""
    out = tmp_path / "shared"
    for first, second in (arrays, arrays[::-1], arrays):
        runs = [
            start("inspect", path, "--grid-size", GRID, "--out", out, "--force", "-q")
            for path in (first, second)
        ]
        results = finish_all(runs)
        assert 0 in [r.code for r in results], results
        for result in results:
            assert result.code in (0, 2) and "Traceback" not in result.err, result
            if result.code == 2:
                assert "in use" in result.err, result
        winners = [
            path.stem for path, r in zip((first, second), results, strict=True) if r.code == 0
        ]
        assert _report_of_one_run(out, winners) in winners


# -- 4. an interrupted or failed run leaves the previous report or none -----------------------
@pytest.mark.slow
@pytest.mark.parametrize("step", list(MID_RUN))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_the_previous_report(arrays, tmp_path, step, sig):
    out = tmp_path / "report"
    assert cli("inspect", arrays[0], "--grid-size", GRID, "--out", out, "-q").code == 0
    previous = _snapshot(out)
    proc = start("inspect", arrays[1], "--grid-size", GRID, "--out", out, "--force", "-q")
    _wait_for(out, MID_RUN[step], proc)
    os.kill(proc.pid, sig)  # not send_signal: its poll() would reap the process
    sent = time.perf_counter()
    run = finish(proc)
    assert time.perf_counter() - sent < STOP_WITHIN, run
    assert run.code == (130 if sig == signal.SIGINT else 143), run
    assert "Traceback" not in run.err, run.err
    assert _snapshot(out) == previous  # untouched: no new file, no removed one
    assert leftovers(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_the_report_is_moved_in_keeps_it(arrays, tmp_path, sig):
    out = tmp_path / "report"
    assert cli("inspect", arrays[0], "--grid-size", GRID, "--out", out, "-q").code == 0
    replaced = (out / "index.html").stat().st_ino
    proc = start("inspect", arrays[1], "--grid-size", GRID, "--out", out, "--force", "-q")

    def moved_in():  # the move puts index.html in last
        try:
            return (out / "index.html").stat().st_ino != replaced
        except FileNotFoundError:  # between the old one's removal and the new one's arrival
            return False

    deadline = time.perf_counter() + 60
    while not moved_in() and time.perf_counter() < deadline:
        time.sleep(0.002)
    os.kill(proc.pid, sig)
    run = finish(proc)
    assert run.code in (0, 130 if sig == signal.SIGINT else 143), run
    assert "Traceback" not in run.err, run.err
    assert _report_of_one_run(out, ["y"]) == "y"  # the new report, whole


def _session_processes(sid):
    """Processes still alive in session ``sid`` (Linux /proc)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.slow
def test_interrupting_a_streamed_inspection_leaves_the_previous_report(
    arrays, skops_model, tmp_path
):
    import shutil

    folder = tmp_path / "lot"
    folder.mkdir()
    for i in range(60):
        shutil.copy(arrays[i % 2], folder / f"a{i:02d}.png")
    out = tmp_path / "report"
    assert cli("inspect", arrays[0], "--model", skops_model, "--out", out, "-q").code == 0
    previous = _snapshot(out)
    # with workers, a signal lands while calls are queued, running or coming back: repeat
    trials = [(signal.SIGINT, 1)] + [(signal.SIGTERM, 2), (signal.SIGINT, 2)] * 3
    for sig, n_jobs in trials:
        proc = start(
            "inspect",
            folder,
            "--model",
            skops_model,
            "--out",
            out,
            "--force",
            "--n-jobs",
            n_jobs,
            "-q",
            session=True,
        )
        deadline = time.perf_counter() + 120
        while running(proc) and time.perf_counter() < deadline:  # a few arrays in
            if sum(1 for _ in out.glob(f"{STAGING_PREFIX}*/map_*.png")) >= 3:
                break
            time.sleep(0.01)
        assert running(proc), "the run ended before it could be interrupted"
        os.kill(proc.pid, sig)
        sent = time.perf_counter()
        run = finish(proc, timeout=60)
        assert time.perf_counter() - sent < 10, run  # stops promptly, never hangs
        assert run.code == (130 if sig == signal.SIGINT else 143), run
        assert "Traceback" not in run.err, run.err
        assert _snapshot(out) == previous  # the earlier report, untouched
        assert leftovers(out) == []
        deadline = time.perf_counter() + 15
        while _session_processes(proc.pid) and time.perf_counter() < deadline:
            time.sleep(0.1)
        assert _session_processes(proc.pid) == []  # no worker left behind


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.slow
def test_a_10k_image_of_185_x_185_sites_is_inspected_in_bands(tmp_path):
    """A saved model on a wafer-sized array: one band of tiles at a time, well under 2 GiB."""
    from sklearn_pillars.tiling import _budget as limits

    array = make_pillar_arrays(n_arrays=1, grid_size=21, random_state=4).array_images[0]
    train = tmp_path / "train.png"
    assert cv2.imwrite(str(train), array)
    big = np.tile(array, (9, 9))[: 185 * 54, : 185 * 54]  # the lattice goes on: pitch 54
    path = tmp_path / "wafer.png"
    assert cv2.imwrite(str(path), big)
    assert limits.band_rows(185, 32) < 185  # X of all 34,225 tiles would be 561 MB
    model = tmp_path / "m.skops"
    assert cli("fit", train, "--model", model, "-q").code == 0
    run = cli("inspect", path, "--model", model, "--grid-size", 185, "--out", tmp_path / "o", "-q")
    assert run.code == 0, run
    assert run.peak < 1 * GiB, run  # the whole X alone would be 561 MB, its work 4x that
    with open(tmp_path / "o" / "tiles.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["row"]), int(r["col"])) for r in rows] == [
        (r, c) for r in range(1, 186) for c in range(1, 186)
    ]
    assert cv2.imread(str(tmp_path / "o" / "map_wafer.png")).shape[1] >= 185 * 12


def test_a_failed_forced_run_leaves_the_previous_report(arrays, tmp_path, monkeypatch, capsys):
    from sklearn_pillars.cli import main
    from sklearn_pillars.report import _stream as report_stream
    from sklearn_pillars.report import _write as report_write

    out = tmp_path / "r"
    assert main(["inspect", str(arrays[0]), "--grid-size", str(GRID), "--out", str(out), "-q"]) == 0
    previous = _snapshot(out)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    for module in (report_write, report_stream):
        monkeypatch.setattr(module, "tile_mosaic", full_disk)
    code = main(
        ["inspect", str(arrays[1]), "--grid-size", str(GRID), "--out", str(out), "--force", "-q"]
    )
    assert code == 1 and "No space left" in capsys.readouterr().err
    assert _snapshot(out) == previous and leftovers(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("step", ["lock file made", "galleries drawn"])
def test_sigterm_of_a_first_run_leaves_no_folder(arrays, tmp_path, step):
    out = tmp_path / "fresh"
    proc = start("inspect", arrays[1], "--grid-size", GRID, "--out", out, "-q")
    _wait_for(out, MID_RUN[step], proc)
    os.kill(proc.pid, signal.SIGTERM)
    run = finish(proc)
    assert run.code == 143, run
    assert not out.exists(), list(out.iterdir())


@pytest.mark.slow
def test_a_forced_rerun_removes_what_a_killed_run_left(arrays, tmp_path):
    out = tmp_path / "r"
    assert cli("inspect", arrays[0], "--grid-size", GRID, "--out", out, "-q").code == 0
    (out / ".tiles.csv.0123456789ab.part").write_text("half")
    (out / f"{STAGING_PREFIX}999-dead").mkdir()
    (out / f"{STAGING_PREFIX}999-dead" / "tiles.csv").write_text("half")
    (out / LOCK_NAME).write_text("999\n")  # a killed run's lock: not held by anyone
    run = cli("inspect", arrays[1], "--grid-size", GRID, "--out", out, "--force", "-q")
    assert run.code == 0, run
    assert leftovers(out) == [] and report_arrays(out) == {"y"}


# -- 5. meaningless input: refused, or loudly flagged with --force-input ---------------------
def _meaningless(kind, path):
    rng = np.random.default_rng(0)
    side = 54 * GRID
    image = {
        "white": np.full((side, side), 255, np.uint8),
        "black": np.zeros((side, side), np.uint8),
        "noise": rng.integers(0, 256, (side, side), dtype=np.uint8),
        "gradient": np.tile(np.linspace(0, 255, side), (side, 1)).astype(np.uint8),
    }[kind]
    assert cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize("mode", ["fit-on-input", "saved-model"])
@pytest.mark.parametrize(
    "kind, words",
    [
        ("white", ["blank"]),
        ("black", ["blank"]),
        ("noise", ["no lattice"]),
        ("gradient", ["no lattice"]),
    ],
)
@pytest.mark.slow
def test_meaningless_images_are_refused_or_flagged(kind, words, mode, skops_model, tmp_path):
    image = _meaningless(kind, tmp_path / f"{kind}.png")
    model = ["--model", skops_model] if mode == "saved-model" else ["--grid-size", GRID]
    out = tmp_path / "o"
    run = cli("inspect", image, *model, "--out", out)
    assert_clean_failure(run, 1, f"{kind}.png", "--force-input", *words)
    assert not out.exists()
    forced = cli("inspect", image, *model, "--out", out, "--force-input")
    assert forced.code == 0, forced
    assert any(
        "warning:" in line and words[0] in line and "meaningless" in line
        for line in forced.err.splitlines()
    ), forced.err
    page = (out / "index.html").read_text(encoding="utf-8")
    assert words[0] in page and "meaningless" in page  # the report says so too
    assert 'class="warning"' in page  # in a red box above the rest


@pytest.mark.slow
def test_a_saved_model_warns_about_arrays_unlike_its_training_arrays(arrays, skops_model, tmp_path):
    image = cv2.imread(str(arrays[1]), cv2.IMREAD_GRAYSCALE)
    zoomed = tmp_path / "zoomed.png"  # the same array at 1.5x the magnification
    assert cv2.imwrite(str(zoomed), cv2.resize(image, None, fx=1.5, fy=1.5))
    run = cli("inspect", zoomed, "--model", skops_model, "--out", tmp_path / "o")
    assert run.code == 0, run
    assert any(
        "warning:" in line and "pitch" in line and "fitted on" in line
        for line in run.err.splitlines()
    ), run.err
    same = cli("inspect", arrays[1], "--model", skops_model, "--out", tmp_path / "o2")
    assert same.code == 0 and "warning" not in same.err, same


def test_the_python_api_checks_the_input_too():
    blank = np.zeros((GRID * 54, GRID * 54), np.uint8)
    with pytest.raises(NotAnArrayError, match="blank.*input_check='warn'"):
        tile_array(blank, GRID)
    with pytest.warns(UserWarning, match="blank"):
        tile_array(blank, GRID, input_check="warn")
    tiles = make_pillar_arrays(1, GRID, random_state=0)
    assert len(tile_array(tiles.array_images[0], GRID)) == GRID**2
    with pytest.raises(NotAnArrayError, match="no lattice of 8 x 8"):
        tile_array(tiles.array_images[0], 8)  # the wrong grid


# -- 6. the smaller problems -----------------------------------------------------------
def test_an_unusable_out_fails_before_any_work(arrays, tmp_path, start_up):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    run = cli("inspect", *arrays, "--grid-size", GRID, "--out", a_file / "report")
    assert_clean_failure(run, 2, "cannot create or write to", "file.txt", "Not a directory")
    assert "[Errno" not in run.err
    assert_refused_early(run, start_up)


@pytest.mark.skipif(
    os.name != "posix" or (os.geteuid() == 0 and _LIBC is None),
    reason="POSIX permissions, and as root Linux's capability bounding set",
)
def test_a_read_only_out_fails_before_any_work(arrays, tmp_path, start_up):
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    run = cli("inspect", *arrays, "--grid-size", GRID, "--out", locked / "report",
              as_plain_user=True)  # fmt: skip
    assert_clean_failure(run, 2, "cannot create or write to", "report", "Permission denied")
    assert_refused_early(run, start_up)
    assert list(locked.iterdir()) == []


@pytest.mark.slow
def test_a_model_path_that_is_a_folder_is_a_usage_error(arrays, tmp_path, start_up):
    folder = tmp_path / "m.skops"
    folder.mkdir()
    for args in (
        ["fit", arrays[0], "--model", folder, "--grid-size", GRID],
        ["inspect", arrays[0], "--model", folder, "--out", tmp_path / "o"],
    ):
        run = cli(*args)
        assert_clean_failure(run, 2, "m.skops", "folder")
        assert_refused_early(run, start_up)


def test_messages_never_show_temporary_file_names(tmp_path, monkeypatch, arrays, capsys):
    import errno

    target = tmp_path / "out.csv"
    with pytest.raises(OSError) as caught:
        with atomic_path(target) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert "out.csv" in str(caught.value) and ".part" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []

    import skops.io

    from sklearn_pillars.cli import main

    def full_disk(obj, file, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(file))

    monkeypatch.setattr(skops.io, "dump", full_disk)
    code = main(
        [
            "fit",
            str(arrays[0]),
            "--grid-size",
            str(GRID),
            "--model",
            str(tmp_path / "m.skops"),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "m.skops" in err and "No space left" in err and ".part" not in err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_non_utf8_file_name_works(arrays, tmp_path):
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse non-UTF-8 names")
    name = os.fsencode(tmp_path) + b"/array_\xff\xfe.png"
    with open(name, "wb") as f:
        f.write(arrays[0].read_bytes())
    out = tmp_path / "o"
    run = cli("inspect", name, "--grid-size", GRID, "--out", out)
    assert run.code == 0, run
    assert report_arrays(out) == {"array_\ufffd\ufffd"}
    missing = cli("inspect", os.fsencode(tmp_path) + b"/gone_\xff.png", "--out", out / "x")
    assert_clean_failure(missing, 2, "gone_\ufffd.png", "no such file")
    assert not (out / "x").exists()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_special_files_are_usage_errors(kind, tmp_path, start_up):
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        path = tmp_path / "pipe.bmp"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
        if not path.exists():
            pytest.skip("no /dev/zero here")
    run = cli("inspect", path, "--out", tmp_path / "o")
    assert_clean_failure(run, 2, path.name, "not a regular file")
    assert_refused_early(run, start_up)
    with pytest.raises(ValueError, match="not a regular file"):
        read_arrays(path)


def test_read_arrays_refuses_a_path_given_twice(arrays):
    same = Path(str(arrays[0]).replace("x.png", "./x.png"))
    with pytest.raises(ValueError, match="given twice"):
        read_arrays([arrays[0], same], GRID)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_wait_until_a_report_is_moved_into_place(signum, tmp_path):
    from sklearn_pillars.cli._signals import Terminated, _interruptible
    from sklearn_pillars.utils.files import deferred_signals, staged_report

    out = tmp_path / "r"
    out.mkdir()
    (out / "tiles.csv").write_text("old")
    (out / "map_old.png").write_text("old")
    expected = KeyboardInterrupt if signum == signal.SIGINT else Terminated
    # Python's Ctrl-C handler, even where the tests run with SIGINT ignored (background)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with _interruptible(), pytest.raises(expected):
            with staged_report(out, ("tiles.csv", "map_*.png")) as staging:
                (staging / "tiles.csv").write_text("new")
                (staging / "map_new.png").write_text("new")
                with deferred_signals():  # as in the move: the signal waits for the block's end
                    os.kill(os.getpid(), signum)
                    time.sleep(0.05)  # the handler would have run here
                    finished = True
                pytest.fail(
                    "the signal should have been raised after the block"
                )  # pragma: no cover
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished
    # it was raised inside the staging block, before the move: the old report is whole
    assert sorted(p.name for p in out.iterdir()) == ["map_old.png", "tiles.csv"]
    assert (out / "tiles.csv").read_text() == "old"
