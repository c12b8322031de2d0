"""Errors the user can act on. The CLI prints them as one line and exits 2."""


class BenchError(Exception):
    """Bad input or an unusable host: a one-line message naming the thing at fault."""

    exit_code = 2
