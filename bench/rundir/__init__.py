"""A run directory, written (results.py) and read back (runs.py) in one place."""
