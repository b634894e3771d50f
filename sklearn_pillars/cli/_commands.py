"""The commands: ``fit``, ``inspect`` and ``evaluate``."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from ..batch import (
    describe_model,
    evaluate,
    fit_arrays_profiled,
    iter_inspect,
    noted_warnings,
    report_details,
    write_streamed_report,
)
from ..constants import DEFAULT_PRESET
from ..exceptions import FolderAccessError, FolderInUseError, UsageError
from ..io import read_labels
from ..lattice import drift_warnings
from ..peel import LayeredPeelClassifier, load_model, save_model, warn_grid_mismatch
from ..report import (
    EVALUATION_PATTERNS,
    REPORT_PATTERNS,
    write_evaluation,
    write_report,
    yield_counts,
)
from ..synthetic import make_pillar_arrays
from ..tiling import read_arrays
from ..utils.files import (
    check_report_folder,
    display_name,
    folder_lock,
    is_empty_folder,
    remove_leftovers,
    staged_report,
)
from ..utils.parallel import start_workers
from ._parser import _count, _grid_option
from ._preflight import (
    DEMO_ARRAYS,
    DEMO_GRID,
    DEMO_MARGIN,
    DEMO_PITCH,
    DEMO_ROTATION,
    _check_demo,
    _check_inputs,
    _demo_frames,
    _grid,
    _input_paths,
    _max_memory,
    _model_path,
    _workers,
)
from ._signals import EXIT_OK, checkpoint


class Progress:
    """A tqdm bar on stderr when it is a terminal; nothing with --quiet."""

    def __init__(self, total, quiet):
        self.bar = None
        self.done = 0
        self.quiet = quiet
        if not quiet:
            from tqdm import tqdm  # optional extra [cli]

            # disable=None: no bar when stderr is not a terminal (logs, pipes, CI)
            self.bar = tqdm(
                total=total,
                file=sys.stderr,
                unit="step",
                leave=False,
                disable=None,
                bar_format="{desc:<32.32} {bar} {n_fmt}/{total_fmt} {elapsed}",
            )

    def __call__(self, text):
        checkpoint()
        self.done += 1
        if self.bar is not None:
            self.bar.set_description_str(text)
            self.bar.update(1)

    def say(self, text):
        """A line on stderr above the bar (nothing with --quiet)."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def lattices(self, names, lattices):
        """Say the lattice found in each array (``--grid auto``)."""
        for name, lattice in zip(names, lattices or (), strict=False):
            if lattice is not None:
                self.say(f"{name}: {lattice}")

    def set_total(self, total):
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def cmd_fit(args):

    paths, _ = _input_paths(args.arrays, args.skip_non_images, args.quiet)
    model_path = _model_path(args.model, must_exist=False)
    if model_path.resolve() in {p.resolve() for p in paths}:
        raise UsageError(f"{display_name(model_path)}: is one of the input arrays")
    if model_path.exists() and not args.force:
        raise UsageError(f"{display_name(model_path)}: exists (use --force to replace it)")
    grid_size, tile_half = _grid(args)
    max_memory = _max_memory(args)
    n_jobs, _ = _workers(_count(args.n_jobs, "--n-jobs") or 1, len(paths), args.quiet)
    preset = args.stages or DEFAULT_PRESET
    _check_inputs(
        paths,
        grid_size,
        tile_half,
        max_memory,
        preset,
        at_once=n_jobs,
        fitting=True,
    )
    progress = Progress(len(paths) + 1, args.quiet)
    try:
        # array by array: memory holds each tile's features, not its pixels
        model, profiles, lattices = fit_arrays_profiled(
            LayeredPeelClassifier(preset),
            paths,
            grid_size,
            tile_half,
            n_jobs,
            max_memory,
            "warn" if args.force_input else "raise",
            progress=progress,
        )
        progress.lattices([display_name(p) for p in paths], lattices)
        progress("saving the model")
        save_model(model, model_path, grid_size=grid_size, tile_half=tile_half, profiles=profiles)
    finally:
        progress.close()
    if not args.quiet:
        counts = dict(zip(*np.unique(model.labels_, return_counts=True), strict=True))
        print(
            f"saved {display_name(model_path)}: fitted on {len(model.labels_)} tiles of "
            f"{len(paths)} array(s); " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_inspect(args):

    if args.demo and args.arrays:
        raise UsageError("give array images or --demo, not both")
    if not args.demo and not args.arrays:
        raise UsageError("no array images given (or use --demo)")
    _grid_option(args.grid_size)  # option errors before anything else
    _count(args.tile_half, "--tile-half")
    _count(args.n_jobs, "--n-jobs")
    _max_memory(args)
    if args.scheduler is not None and not args.scheduler.strip():
        raise UsageError(
            "--scheduler needs the address of a Dask scheduler, e.g. tcp://host:8786 "
            "(leave it out to classify on this machine)"
        )
    paths, notes = (
        ([], []) if args.demo else _input_paths(args.arrays, args.skip_non_images, args.quiet)
    )
    if args.model:
        _check_saved_model(args)
        if args.scheduler and args.n_jobs:
            raise UsageError(
                "give --n-jobs or --scheduler, not both: the Dask workers are the parallelism"
            )
    if args.tsne and args.model and paths:
        raise UsageError(
            "--tsne adds t-SNE plots to the layers' figures, which the report of a saved "
            "--model does not draw (it classifies the arrays one at a time); leave --tsne out, "
            "or inspect without --model"
        )
    if args.scheduler and not (args.model and paths):
        raise UsageError("--scheduler classifies array files with a saved --model")
    return _into_folder(args, paths, lambda out: _inspect_into(args, paths, out, notes))


def _check_saved_model(args):
    """Refuse ``--model`` options that cannot go with a saved model: a .joblib file
    without ``--trust-model``, and ``--stages``."""
    model_path = _model_path(args.model, must_exist=True)
    if model_path.suffix == ".joblib" and not args.trust_model:
        raise UsageError(
            f"--model {display_name(model_path)}: a .joblib model is a pickle, and loading "
            "it runs whatever code it holds; pass --trust-model if you made it yourself, "
            "or save the model as .skops, which loads safely"
        )
    if args.stages:
        raise UsageError(
            "--stages chooses how to fit; a saved --model was fitted already (leave --stages out)"
        )


def _into_folder(args, paths, write):
    """``write(out)`` into the ``--out`` folder, held locked: refused when it is one of the
    inputs' folders, in use by another run, or not empty without ``--force``."""
    try:
        out = check_report_folder(args.out, paths)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        with folder_lock(out):
            remove_leftovers(out)
            if not is_empty_folder(out) and not args.force:
                raise UsageError(
                    f"{display_name(out)}: folder is not empty (use --force to write into it)"
                )
            return write(out)
    except (FolderInUseError, FolderAccessError) as exc:
        raise UsageError(str(exc)) from None


def _inspect_streaming(
    args, paths, out, model, info, grid_size, tile_half, max_memory, n_jobs, input_notes
):
    """Classify the arrays with a saved model one at a time, the report growing as it goes."""

    details = report_details(paths, describe_model(model, args.model, info), grid_size, tile_half)
    progress = Progress(len(paths) + 1, args.quiet)
    client = _dask_client(args.scheduler) if args.scheduler else None
    try:
        with staged_report(out, REPORT_PATTERNS) as staging, noted_warnings(show=not args.quiet):
            results = iter_inspect(
                paths,
                model,
                grid_size,
                tile_half,
                n_jobs=None if client else n_jobs,
                client=client,
                max_memory=max_memory,
                draw_maps=True,
                input_check="warn" if args.force_input else "raise",
            )
            report = write_streamed_report(
                staging,
                _saying_lattices(results, progress),
                grid_size=grid_size,
                details=details,
                profiles=info["profiles"],
                notes=input_notes,
                progress=progress,
                classes=model.classes_,
            )
            checkpoint()  # an interrupt before this point leaves the folder as it was
    finally:
        progress.close()
        if client is not None:
            client.close()
    if not args.quiet:
        print(
            f"report written to {display_name(out)}/index.html: {report.n_tiles} tiles of "
            f"{len(paths)} array(s), yield {report.yield_counts()['yield']:.1%}",
            file=sys.stderr,
        )
    return EXIT_OK


def _saying_lattices(results, progress):
    """``results`` (ArrayResult), saying each found lattice as it comes."""
    try:
        for result in results:
            progress.lattices([result.name], [result.lattice])
            yield result
    finally:
        results.close()


def _dask_client(address):
    """A client of the Dask scheduler at ``address`` (the [dask] extra)."""
    try:
        from distributed import Client  # optional extra [dask]
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install 'sklearn-pillars[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"--scheduler {address}: cannot reach the Dask scheduler ({exc})"
        ) from None


def _inspect_into(args, paths, out, input_notes):

    model, info = (None, None)
    # a saved model classifies array by array, one worker each; a fit, tile by tile
    n_jobs, job_notes = _workers(
        _count(args.n_jobs, "--n-jobs") or 1,
        len(paths) if args.model and paths else None,
        args.quiet,
    )
    input_notes = [*input_notes, *job_notes]
    if args.model:
        if paths and not args.scheduler:
            start_workers(n_jobs)  # while the model loads
        model, info = load_model(args.model, trusted=args.trust_model)
    grid_size, tile_half = _grid(args, info)
    if info is not None:
        with noted_warnings(show=not args.quiet) as grid_notes:
            warn_grid_mismatch(_grid_option(args.grid_size), info, option="--grid")
        input_notes = [*input_notes, *grid_notes]
    max_memory = _max_memory(args)
    preset = info["preset"] if info is not None else args.stages or DEFAULT_PRESET
    streaming = model is not None and bool(paths)
    if paths:
        _check_inputs(
            paths,
            grid_size,
            tile_half,
            max_memory,
            preset,
            at_once=n_jobs if streaming else None,
            banded=streaming,
        )
    else:
        _check_demo(grid_size, tile_half, max_memory, preset)
    if streaming:
        return _inspect_streaming(
            args, paths, out, model, info, grid_size, tile_half, max_memory, n_jobs, input_notes
        )

    progress = Progress(2, args.quiet)
    try:
        progress("reading arrays")
        with noted_warnings(show=not args.quiet) as notes:
            if args.demo and grid_size == "auto":
                tiles = _demo_frames(tile_half)
                source = (
                    "built-in synthetic frames (make_pillar_arrays, random_state=0, "
                    f"{DEMO_GRID} x {DEMO_GRID} sites rotated by {DEMO_ROTATION} degrees "
                    f"in a margin of {DEMO_MARGIN} pitch)"
                )
            elif args.demo:
                tiles = make_pillar_arrays(
                    n_arrays=DEMO_ARRAYS,
                    grid_size=grid_size,
                    random_state=0,
                    tile_half=tile_half,
                    pitch=DEMO_PITCH,
                )
                source = "built-in synthetic arrays (make_pillar_arrays, random_state=0)"
            else:
                tiles = _read_arrays(args, paths, grid_size, tile_half, max_memory)
            _say_lattices_and_drift(progress, tiles, info)
        # what the classifier warns of (uneven illumination, ...) goes on the page too
        with noted_warnings(show=not args.quiet) as classifying_notes:
            if model is None:
                progress(f"fitting on {len(tiles)} tiles")
                preset = args.stages or DEFAULT_PRESET
                model = LayeredPeelClassifier(preset, n_jobs=n_jobs).fit(tiles.X)
                labels, scores, kinds = model.labels_, model.inconsistency_, model.kinds_
                diagnostics = model.stage_diagnostics()
                how = f"fitted on these arrays, preset {preset!r}"
            else:
                progress(f"classifying {len(tiles)} tiles")
                result = model.trace(tiles.X)
                labels, scores, diagnostics = result.labels, result.scores, result.stages
                kinds = result.kinds
                how = describe_model(model, args.model, info)
        notes = [*notes, *dict.fromkeys(classifying_notes)]
        # the report's steps: tables, maps, galleries, stages, extremes, page
        progress.set_total(
            progress.done
            + 3
            + len(tiles.array_names)
            + len(set(labels.tolist()))
            + len(diagnostics)
        )
        details = report_details(paths or [source], how, grid_size, tile_half)
        details += [("warning", note) for note in [*input_notes, *notes]]
        with staged_report(out, REPORT_PATTERNS) as staging:
            write_report(
                staging,
                tiles,
                labels,
                scores,
                diagnostics,
                grid_size=grid_size,
                title="Pillar array inspection",
                details=details,
                tsne=args.tsne,
                progress=progress,
                kinds=kinds,
                classes=model.classes_,
            )
            checkpoint()  # an interrupt before this point leaves the folder as it was
    finally:
        progress.close()
    if not args.quiet:
        made = yield_counts(labels, kinds)
        print(
            f"report written to {display_name(out)}/index.html: {len(tiles)} tiles, yield "
            f"{made['yield']:.1%}",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_evaluate(args):

    _grid_option(args.grid_size)  # option errors before anything else
    _count(args.tile_half, "--tile-half")
    _count(args.n_jobs, "--n-jobs")
    _max_memory(args)
    try:
        table = read_labels(args.labels)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--labels {exc}") from None
    if not table:
        raise UsageError(f"--labels {display_name(args.labels)}: holds no labels")
    paths, notes = _input_paths(args.arrays, args.skip_non_images, args.quiet)
    if args.model:
        _check_saved_model(args)
    return _into_folder(args, paths, lambda out: _evaluate_into(args, paths, out, table, notes))


def _evaluate_into(args, paths, out, table, input_notes):

    n_jobs, job_notes = _workers(_count(args.n_jobs, "--n-jobs") or 1, None, args.quiet)
    model, info = LayeredPeelClassifier(args.stages or DEFAULT_PRESET, n_jobs=n_jobs), None
    if args.model:
        model, info = load_model(args.model, trusted=args.trust_model)
    grid_size, tile_half = _grid(args, info)
    notes = [*input_notes, *job_notes]
    if info is not None:
        with noted_warnings(show=not args.quiet) as grid_notes:
            warn_grid_mismatch(_grid_option(args.grid_size), info, option="--grid")
        notes += grid_notes
    max_memory = _max_memory(args)
    preset = info["preset"] if info is not None else model.stages
    _check_inputs(paths, grid_size, tile_half, max_memory, preset)
    progress = Progress(4, args.quiet)
    try:
        progress("reading arrays")
        with noted_warnings(show=not args.quiet) as reading_notes:
            tiles = _read_arrays(args, paths, grid_size, tile_half, max_memory)
            _say_lattices_and_drift(progress, tiles, info)
        progress(f"{'classifying' if info else 'fitting on'} {len(tiles)} tiles")
        with noted_warnings(show=not args.quiet) as classifying_notes:
            try:
                evaluation = evaluate(model, tiles, table)
            except ValueError as exc:
                if "no label matches a tile" in str(exc):
                    raise UsageError(f"--labels {display_name(args.labels)}: {exc}") from None
                raise
        how = (
            describe_model(model, args.model, info)
            if info is not None
            else f"fitted on these arrays, preset {model.stages!r}"
        )
        details = [
            *report_details(paths, how, grid_size, tile_half),
            ("labels", display_name(args.labels)),
        ]
        unmatched = evaluation.unmatched
        if unmatched:
            first = ", ".join(f"{a} {r},{c}" for a, r, c, _ in unmatched[:5])
            message = (
                f"{len(unmatched)} label(s) of {display_name(args.labels)} match no tile "
                f"({first}{' ...' if len(unmatched) > 5 else ''}): listed in unmatched.csv"
            )
            progress.say(f"sklearn-pillars: warning: {message}")
            notes.append(message)
        details += [
            ("warning", note)
            for note in dict.fromkeys([*notes, *reading_notes, *classifying_notes])
        ]
        progress("writing the evaluation")
        with staged_report(out, EVALUATION_PATTERNS) as staging:
            write_evaluation(
                staging, evaluation, tiles, title="Pillar array evaluation", details=details
            )
            checkpoint()  # an interrupt before this point leaves the folder as it was
    finally:
        progress.close()
    if not args.quiet:
        print(
            f"evaluation written to {display_name(out)}/index.html: {evaluation.n_labelled} "
            f"labelled tiles of {len(tiles.array_names)} array(s), accuracy "
            f"{evaluation.accuracy:.1%}, macro-F1 {evaluation.macro_f1:.3f}",
            file=sys.stderr,
        )
    return EXIT_OK


def _read_arrays(args, paths, grid_size, tile_half, max_memory):
    """The arrays' tiles, read at once, with ``--force-input``'s input check."""
    return read_arrays(
        paths,
        grid_size,
        tile_half,
        max_memory=max_memory,
        input_check="warn" if args.force_input else "raise",
    )


def _say_lattices_and_drift(progress, tiles, info):
    """Say the lattices found, and warn of arrays far from those a saved model was fitted
    on (contrast, level, pitch, pillar size)."""
    progress.lattices(tiles.array_names, tiles.lattices)
    if info is not None and tiles.array_profiles is not None:
        for message in drift_warnings(tiles.array_profiles, info["profiles"], tiles.array_names):
            warnings.warn(message, UserWarning, stacklevel=1)
