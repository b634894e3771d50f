"""Finding array images in folders, checking and reading them, and their grey levels."""

from __future__ import annotations

import glob
import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from ..utils.files import display_name
from ..utils.memory import check_memory, format_size
from ._header import read_image_header

#: Files of a format no header reader knows are not read beyond this size; nor are
#: files larger than this beyond twice the raw size of the image their header describes
#: (room for metadata and incompressible data, not for a 3 GB file behind a small header).
UNKNOWN_FORMAT_MAX_BYTES = 64 * 2**20


#: A file is not read when it is larger than this many times the raw size of the image
#: its header describes, plus :data:`UNKNOWN_FORMAT_MAX_BYTES`.
MAX_FILE_PER_IMAGE_BYTE = 2


class _QuietOpenCV:
    """Silence OpenCV's own log lines while decoding: we raise our own errors."""

    # OpenCV 5 has cv2.utils.logging; 4.x has cv2.getLogLevel/setLogLevel (0 = silent)
    _api = getattr(getattr(cv2, "utils", None), "logging", None) or cv2

    def __enter__(self):
        self._level = self._api.getLogLevel()
        self._api.setLogLevel(0)

    def __exit__(self, *exc):
        self._api.setLogLevel(self._level)


def check_regular_file(path):
    """``path`` as a Path if it names a regular file; FileNotFoundError, IsADirectoryError
    or ValueError (a FIFO, device or socket: never opened, so never blocks) otherwise."""
    path = Path(os.fspath(path))
    if not path.exists():
        if path.is_symlink():
            raise FileNotFoundError(
                f"{display_name(path)}: a broken symbolic link (to "
                f"{display_name(Path(os.readlink(path)))}, which does not exist)"
            )
        raise FileNotFoundError(f"{display_name(path)}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{display_name(path)}: is a folder, not an image file")
    if not path.is_file():
        raise ValueError(
            f"{display_name(path)}: not a regular file (a FIFO, device or "
            "socket); give an image file"
        )
    return path


def find_array_images(inputs, *, skip_non_images=False):
    """The image files named by files, folders and glob patterns, in order.

    A folder gives its files (not its subfolders or hidden files) sorted by
    name; a pattern with ``*``, ``?`` or ``[`` that names no file gives the
    files it matches, sorted (``**`` is not recursive; a name holding such
    characters is taken as it is when it exists, else escape them with
    ``glob.escape``). A file named as such is always taken (reading
    it says what is wrong with it); a file found in a folder or by a pattern
    must be an image (its first bytes say so), or it is an error, or with
    ``skip_non_images`` it is left out with a warning.

    Parameters
    ----------
    inputs : path-like, str or sequence of them
        Image files, folders and glob patterns.
    skip_non_images : bool, default=False
        Leave out, with one ``UserWarning``, the files of a folder or
        pattern that are not images, instead of raising ValueError.

    Returns
    -------
    list of Path
        Without repeats: a file named twice (directly, in a folder or by a
        pattern) is a ValueError.

    Raises
    ------
    FileNotFoundError
        If an input names nothing, or a folder or pattern holds no image.
    PermissionError
        If a file of a folder or pattern cannot be read.
    ValueError
        If there are no inputs, a folder or pattern holds a file that is not
        an image (without ``skip_non_images``), or a file is named twice.

    See Also
    --------
    read_arrays : Read the images found and cut them into tiles.
    inspect_arrays : Classify the images found and write a report.

    Examples
    --------
    >>> find_array_images(["wafer_7/", "extra/*.bmp"])  # doctest: +SKIP
    [PosixPath('wafer_7/a01.bmp'), PosixPath('wafer_7/a02.bmp'), PosixPath('extra/b.bmp')]

    A folder holding two images and a text file:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> import numpy as np
    >>> from sklearn_pillars import find_array_images
    >>> import warnings
    >>> with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # the warning that notes.txt is left out
    ...     for name in ("b.png", "a.png"):
    ...         _ = cv2.imwrite(str(Path(folder, name)), np.zeros((8, 8), np.uint8))
    ...     _ = Path(folder, "notes.txt").write_text("not an image")
    ...     found = find_array_images(folder, skip_non_images=True)
    ...     [path.name for path in found]
    ['a.png', 'b.png']
    """

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise ValueError("no array images given")
    paths, skipped = [], []
    for item in inputs:
        path = Path(os.fspath(item))
        if path.is_dir():
            found = sorted(
                (p for p in path.iterdir() if not p.name.startswith(".") and not p.is_dir()),
                key=lambda p: p.name,
            )
            where = f"folder {display_name(path)}"
        elif not path.exists() and any(ch in str(item) for ch in "*?["):
            found = sorted(
                (Path(p) for p in glob.glob(os.fspath(item)) if not Path(p).is_dir()), key=str
            )
            where = f"pattern {str(item)!r}"
        else:
            paths.append(check_regular_file(path))
            continue
        images = []
        for file in found:
            if file.is_symlink() and not file.exists():
                if skip_non_images:
                    skipped.append(file)
                    continue
                raise FileNotFoundError(
                    f"{display_name(file)} (in {where}): a broken symbolic link (to "
                    f"{display_name(Path(os.readlink(file)))}, which does not exist); remove "
                    "it, or skip the files that are not images (--skip-non-images, "
                    "skip_non_images=True)"
                )
            if not os.access(file, os.R_OK):
                raise PermissionError(
                    f"{display_name(file)} (in {where}): cannot be read (permission denied)"
                )
            if file.is_file() and read_image_header(file) is not None:
                images.append(file)
            elif skip_non_images:
                skipped.append(file)
            else:
                raise ValueError(
                    f"{display_name(file)} (in {where}): not an image (PNG, BMP, TIFF, JPEG, "
                    "...); remove it, or skip the files that are not images "
                    "(--skip-non-images, skip_non_images=True)"
                )
        if not images:
            raise FileNotFoundError(
                f"{where}: holds no image files"
                if found or path.is_dir()
                else f"{where}: matches no files"
            )
        paths += images
    if skipped:
        shown = ", ".join(display_name(p) for p in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            f"skipped {len(skipped)} files that are not images: {shown}{more}",
            UserWarning,
            stacklevel=2,
        )
    return unique_paths(paths)


def unique_paths(paths):
    """``paths`` as a list of Paths; ValueError naming a file given twice (under any name)."""
    paths = [Path(os.fspath(p)) for p in paths]
    seen = {}
    for path in paths:
        key = path.resolve()
        if key in seen:
            twice = (
                ""
                if display_name(seen[key]) == display_name(path)
                else f" (as {display_name(seen[key])})"
            )
            raise ValueError(f"{display_name(path)}: given twice{twice}")
        seen[key] = path
    return paths


def check_image_file(path, *, max_memory=None):
    """Check an image file before reading it: a regular, non-empty file of a size we can decode.

    Parameters
    ----------
    path : path-like
    max_memory : int or str, optional
        Memory limit of decoding it (default half the machine's RAM).

    Returns
    -------
    header : ImageHeader or None
        From the file's first bytes; None for a format only OpenCV knows.
    size : int
        The file's size in bytes.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    IsADirectoryError
        If it is a folder.
    ValueError
        If it is not a regular file, is empty, or is a large file of unknown format.
    ResourceLimitError
        If decoding it would need more than ``max_memory``.
    """
    path = check_regular_file(path)
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{display_name(path)}: the file is empty")
    header = read_image_header(path)
    if header is None:
        if size > UNKNOWN_FORMAT_MAX_BYTES:
            raise ValueError(
                f"{display_name(path)}: not a recognised image format (BMP, PNG, TIFF, JPEG, "
                f"...); not reading all {format_size(size)} of it to find out"
            )
        return None, size
    if header.width == 0 or header.height == 0:
        raise ValueError(
            f"{display_name(path)}: its header says it is {header.width} x {header.height} pixels"
        )
    if size > MAX_FILE_PER_IMAGE_BYTE * header.decoded_bytes + UNKNOWN_FORMAT_MAX_BYTES:
        raise ValueError(
            f"{display_name(path)}: the file is {format_size(size)}, far more than the "
            f"{header.width} x {header.height} image its header describes "
            f"({format_size(header.decoded_bytes)}); not reading it"
        )
    grey_bytes = header.width * header.height * (3 if header.sample_bytes == 2 else 1)
    check_memory(
        # the file, the decoder's buffer, the grey image (and a 16-bit one before it)
        size + header.decoded_bytes + grey_bytes,
        max_memory,
        what=f"{display_name(path)}: decoding this {header.width} x {header.height} image",
    )
    return header, size


def read_image(path, *, max_memory=None):
    """Read an image file as 2-D uint8 grey, as ``cv2.IMREAD_GRAYSCALE`` does 8-bit ones.

    16-bit images keep the top 8 bits of the bit depth they use (10, 12, 14 or 16
    bits: :func:`sixteen_to_eight_bits`), so that a 12-bit camera's image is not
    read as nearly blank.

    The header is checked first (:func:`check_image_file`): nothing is read
    whole that could not be decoded within ``max_memory``.

    Parameters
    ----------
    path : str or path-like
        A BMP, PNG or TIFF file, 8- or 16-bit, grey or colour (not floating-point).
    max_memory : int or str, optional
        Memory limit (bytes, or e.g. ``"4G"``); default half the machine's RAM.

    Returns
    -------
    ndarray of shape (H, W), uint8

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is empty, not a regular file, not an image OpenCV can
        decode, or truncated.
    IsADirectoryError
        If ``path`` is a folder.
    ResourceLimitError
        If decoding it would need more than ``max_memory``.

    See Also
    --------
    read_arrays : Read array images and cut them into tiles.
    tile_array : Cut an image in memory into tiles.
    find_lattice : Find the lattice of pillar sites in an image.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> import numpy as np
    >>> from sklearn_pillars import read_image
    >>> colour = np.zeros((40, 60, 3), np.uint8)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "array.png")
    ...     _ = cv2.imwrite(str(path), colour)
    ...     grey = read_image(path)
    >>> grey.shape, grey.dtype
    ((40, 60), dtype('uint8'))
    """
    path = Path(os.fspath(path))
    header, _ = check_image_file(path, max_memory=max_memory)
    if header is not None and header.mode == "F":
        raise ValueError(
            f"{display_name(path)}: 32-bit floating-point {header.format} images are not "
            "supported (their grey levels have no fixed scale); save it with 8- or 16-bit "
            "integer grey levels"
        )
    data = np.fromfile(path, dtype=np.uint8)
    with _QuietOpenCV():
        try:
            image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
        except cv2.error as exc:
            raise ValueError(
                f"{display_name(path)}: OpenCV cannot decode this image ({exc.err})"
            ) from None
    if image is None or image.size == 0:
        raise ValueError(
            f"{display_name(path)}: not a readable image (unknown format, corrupt or "
            "truncated file)"
        )
    if image.dtype == np.uint16:
        return sixteen_to_eight_bits(image)
    if image.dtype != np.uint8:
        raise ValueError(
            f"{display_name(path)}: {image.dtype} grey levels are not supported; save it "
            "with 8- or 16-bit integer grey levels"
        )
    return image


#: Bit depths a 16-bit image's grey levels may use (cameras write 10, 12 or 14 bits into
#: 16-bit files, in their low bits).
BIT_DEPTHS = (8, 10, 12, 14, 16)


def sixteen_to_eight_bits(image):
    """16-bit grey levels as 8-bit ones, by the bit depth the image uses.

    The depth is the smallest of :data:`BIT_DEPTHS` that holds the brightest
    pixel, and its top 8 bits are kept: a 12-bit camera's image (0-4095) is
    shifted by 4, a full 16-bit one by 8 (its high byte, as
    ``cv2.IMREAD_GRAYSCALE`` keeps), data under 256 not at all. Keeping only the
    high byte would make a 12-bit image nearly blank (0-15).
    """
    brightest = int(image.max()) if image.size else 0
    depth = next(d for d in BIT_DEPTHS if brightest < 2**d)
    return np.right_shift(image, depth - 8).astype(np.uint8)


def array_names(paths):
    """File names without suffix; the path without suffix where two names would clash.

    Names are printable text: bytes of a file name that are not UTF-8 become U+FFFD.
    """
    stems = [p.stem for p in paths]
    names = [
        display_name(p.with_suffix("")) if stems.count(p.stem) > 1 else display_name(p.stem)
        for p in paths
    ]
    # a.png and a.bmp in one folder: the whole path
    return [display_name(p) if names.count(n) > 1 else n for p, n in zip(paths, names, strict=True)]


def to_grey(image, name="image"):
    """Convert an in-memory image to 2-D uint8 grey, as reading it from a BMP file does.

    Grey uint8 is returned unchanged. 16-bit images keep the top 8 bits of the bit
    depth they use (:func:`sixteen_to_eight_bits`), as :func:`read_image` does.
    Colour (BGR or BGRA, OpenCV's channel order) goes through OpenCV's BMP codec
    with ``IMREAD_GRAYSCALE``, as the original analysis did (it wrote colour tiles
    to BMP and read them back). This equals reading a colour BMP file; other codecs
    (PNG, TIFF) convert colour with their own rounding and can differ by one grey
    level, so read such files with :func:`~sklearn_pillars.read_arrays` for their
    exact values.
    """
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = sixteen_to_eight_bits(image)
    elif image.dtype != np.uint8:
        raise TypeError(
            f"{name} must be uint8 or uint16 grey levels, got dtype {image.dtype}; "
            "convert it first, e.g. with skimage.util.img_as_ubyte"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        if image.shape[2] == 4:
            image = np.ascontiguousarray(image[:, :, :3])
        ok, buffer = cv2.imencode(".bmp", np.ascontiguousarray(image))
        if not ok:  # pragma: no cover - BMP encoding of uint8 BGR does not fail
            raise ValueError(f"OpenCV could not convert {name} to grey")
        image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
    if image.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D grey image or an (H, W, 3|4) colour image, "
            f"got shape {image.shape}"
        )
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    return image
