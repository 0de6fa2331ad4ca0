"""Fuzz targets (atheris), one per parser of untrusted input; ``python -m fuzz.run`` runs them."""
