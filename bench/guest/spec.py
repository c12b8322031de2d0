"""What the static launcher (imagelauncher.c) runs for one workload: its spec file, one
"key value" a line, beside the launcher in the image (workloads/NAME/spec). A value's newlines
and backslashes are written as \\n and \\\\ (a `sh -c` script has lines); NUL cannot be in an argv."""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError

SPEC = "spec"


@dataclass(frozen=True)
class LauncherSpec:
    uid: int
    gid: int
    workdir: str
    env: tuple[str, ...]  # KEY=VALUE, exactly the workload's environment (the launcher adds BENCH_*)
    argv: tuple[str, ...]  # run directly; {seconds} is filled in by the launcher
    seconds: int | None = None  # what {seconds} stands for unless the host gives NAME@SECONDS
    as_root: bool = False  # keep root (the exposure probe)

    def text(self, what: str) -> str:
        lines = [f"user {self.uid}:{self.gid}", f"workdir {_escaped(self.workdir)}"]
        lines += [f"env {_escaped(e)}" for e in self.env] + [f"arg {_escaped(a)}" for a in self.argv]
        if self.seconds is not None:
            lines.append(f"seconds {self.seconds}")
        if self.as_root:
            lines.append("as-root")
        bad = next((line for line in lines if "\0" in line), None)
        if bad is not None:
            key, _, value = bad.partition(" ")
            raise BenchError(f"{what}: {key} {value[:40]!r}… holds a NUL, which no program's argument or "
                             "environment can")
        return "\n".join(lines) + "\n"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")
