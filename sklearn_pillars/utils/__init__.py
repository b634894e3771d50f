"""Helpers the subpackages share: scikit-learn fixes, argument checks, files and locks,
memory limits, the process pool and docstring templates."""
