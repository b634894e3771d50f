"""Reading: finding array images, their headers and grey levels, and tile label files."""

from ._header import (
    ImageHeader,
    read_image_header,
)
from ._images import (
    MAX_FILE_PER_IMAGE_BYTE,
    UNKNOWN_FORMAT_MAX_BYTES,
    array_names,
    check_image_file,
    check_regular_file,
    find_array_images,
    read_image,
    to_grey,
    unique_paths,
)
from ._labels import (
    lookup_labels,
    read_labels,
)

__all__ = [
    "ImageHeader",
    "MAX_FILE_PER_IMAGE_BYTE",
    "UNKNOWN_FORMAT_MAX_BYTES",
    "array_names",
    "check_image_file",
    "check_regular_file",
    "find_array_images",
    "lookup_labels",
    "read_image",
    "read_image_header",
    "read_labels",
    "to_grey",
    "unique_paths",
]
