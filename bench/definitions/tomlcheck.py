"""Typed reads of TOML tables with one-line errors that name the file and the key.

Workload and suite files are user input: a wrong type, a missing key or an unknown key
(usually a typo) is reported as `FILE: key: problem` and exits 2.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from bench.errors import BenchError

_MISSING = object()


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise BenchError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise BenchError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise BenchError(f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
                         "TOML files must be UTF-8") from None
    except OSError as e:
        raise BenchError(f"{path}: cannot read: {e.strerror}") from None


class Table:
    """A TOML table being read; `finish()` rejects the keys nobody asked for."""

    def __init__(self, data: dict[str, Any], source: Path, prefix: str = ""):
        self.data = data
        self.source = source
        self.prefix = prefix
        self._seen: set[str] = set()

    def error(self, key: str, problem: str) -> BenchError:
        return BenchError(f"{self.source}: {self.prefix}{key}: {problem}")

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(key, "missing")
        return default

    def text(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] = ()) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def number(self, key: str, default: Any = _MISSING, positive: bool = False) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(key, f"must be a number, got {value!r}")
        if positive and value <= 0:
            raise self.error(key, f"must be greater than 0, got {value!r}")
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value!r}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def text_list(self, key: str, default: Any = _MISSING, non_empty: bool = False) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"must be a list of non-empty strings, got {value!r}")
        if non_empty and not value:
            raise self.error(key, "must not be empty")
        return list(value)

    def integer_list(self, key: str, default: Any = _MISSING, minimum: int = 0) -> list[int]:
        value = self._get(key, default)
        if not isinstance(value, list) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value):
            raise self.error(key, f"must be a non-empty list of whole numbers (at least {minimum}), got {value!r}")
        return list(value)

    def table(self, key: str, optional: bool = False) -> Table:
        if optional and key not in self.data:
            self._seen.add(key)
            return Table({}, self.source, f"{self.prefix}{key}.")
        value = self._get(key, _MISSING)
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table ([{self.prefix}{key}]), got {value!r}")
        return Table(value, self.source, f"{self.prefix}{key}.")

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            raise self.error(unknown[0], "unknown key")
