"""The `bench` command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import bench
from bench.cli import argtypes
from bench import exports
from bench.cli import history as history_commands
from bench.definitions import hostprofile
from bench.errors import BenchError
from bench.host import engines
from bench.model import registry
from bench.progress import Progress



class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr and exit 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BenchError(f"{self.prog}: {message}")


def build_parser() -> Parser:
    parser = Parser(prog="bench", description="Measure what isolation costs: the same workload "
                    "as a native process, a Docker container and a libvirt VM.")
    parser.add_argument("--version", action="version", version=f"vmct-bench {bench.__version__}")
    parser.add_argument("--cache-dir", type=Path, help="build cache (default: $BENCH_CACHE_DIR "
                        "or /var/cache/vmct-bench; must be readable by QEMU)")
    parser.add_argument("--workloads-dir", type=Path,
                        help="where workload definitions live (default: the project's workloads/)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    doctor = commands.add_parser("doctor", help="what this host can run, and why not")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--recheck", action="store_true",
                        help="probe the VM accelerators again instead of using this boot's verdict")
    doctor.add_argument("--kvm-deadline", type=argtypes.seconds, default=20.0, metavar="S",
                        help="seconds a KVM guest gets to prove it runs (default: 20)")

    images = commands.add_parser("images", help="build and check the images").add_subparsers(
        dest="images_command", required=True, parser_class=Parser)
    build = images.add_parser("build", help="build the root filesystem and every platform's image")
    build.add_argument("--workloads", type=argtypes.names, metavar="NAME,...",
                       help="workloads to include (default: all in the workloads directory)")
    build.add_argument("--kernel", type=Path, help="use this kernel instead of Debian's cloud kernel")
    build.add_argument("--initramfs", type=Path, help="with --kernel: its initramfs")
    show = images.add_parser("show", help="print the current image manifest")
    show.add_argument("--json", action="store_true", help="the whole manifest as JSON")
    images.add_parser("verify", help="re-hash every artifact against the manifest")

    workload = commands.add_parser("workload", help="make workload files").add_subparsers(
        dest="workload_command", required=True, parser_class=Parser)
    init = workload.add_parser("init", help="a workload file (and a suite naming it) from a user's image's config, "
                               "in the workloads directory, to edit")
    init.add_argument("name", help="the new workload's name (lower case letters, digits, - and _)")
    source = init.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", metavar="REF", help="an image in the local Docker engine (name:tag or id); "
                        "nothing is pulled")
    source.add_argument("--image-archive", type=Path, metavar="PATH",
                        help="a `docker save` tarball or an OCI image layout archive")
    init.add_argument("--force", action="store_true", help="replace an existing workload file of that name")

    launch = commands.add_parser("launch", help="run one workload once on one platform")
    launch.add_argument("workload")
    launch.add_argument("--platform", type=argtypes.platform, required=True, metavar="PLATFORM",
                        help=f"one of {registry.FORMS}")
    launch.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                        help="VM accelerator (default: doctor's choice for this host)")
    launch.add_argument("--json", action="store_true", help="print the outcome as JSON")

    run = commands.add_parser("run", help="run a suite: interleaved trials on every platform, "
                              "recorded in reports/<run-id>/")
    run.add_argument("suite", nargs="?", help="a shipped suite's name or a suite file "
                     "(default: the default suite)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue an interrupted run: run only its unrecorded trials")
    run.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                     help="VM accelerator (default: doctor's choice for this host)")
    run.add_argument("--output-dir", type=Path, metavar="DIR",
                     help="where run directories go (default: $BENCH_REPORTS_DIR or the project's reports/)")
    run.add_argument("--ignore-leftovers", action="store_true",
                     help="start although another run left instances behind or is in progress")
    run.add_argument("--all-metrics", action="store_true", help="print every metric, not the headline ones")
    run.add_argument("--dry-run", action="store_true",
                     help="print the plan and its estimated time; start nothing")
    run.add_argument("--no-report", action="store_true",
                     help="do not render RUN_DIR/index.html at the end (`bench report` can later)")
    run.add_argument("--host", type=argtypes.host_profile, metavar="NAME",
                     help="the lab machine's profile (hosts/NAME.toml): its name in the history, its tuning "
                     "(with --tune), its size for the report; its noise floor is written back")
    run.add_argument("--tune", action="store_true",
                     help="tune the host's noise sources for the run (`bench tune`) and restore them at its end")

    report = commands.add_parser("report", help="render run directories as one self-contained HTML report")
    report.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="one run, or several to show side by side (two hosts, before/after)")
    report.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="default: RUN_DIR/index.html for one run, reports/compare-<ids>.html for several")
    report.add_argument("--single-file", action="store_true",
                        help="embed summary.csv and trials.jsonl as data: links instead of linking the files")
    report.add_argument("--host-memory", type=argtypes.size, metavar="SIZE",
                        help="also say how many instances fit in this much memory (e.g. 64GiB)")
    report.add_argument("--scenario", type=argtypes.scenario, action="append", metavar="SCENARIO",
                        help="cost a consolidation with the run's measured overheads: a TOML file "
                             "(examples/scenarios/) or '9 vm x 8GiB [-> 4 vm + 20 containers x 1GiB]'; "
                             "repeatable (default: the shipped examples)")
    report.add_argument("--host-disk", type=argtypes.size, metavar="SIZE",
                        help="also say how many instances fit on this much disk (e.g. 2TiB)")

    compare = commands.add_parser("compare", help="A/B regression gate: exit 1 if CURRENT is worse than "
                                  "BASELINE beyond the threshold and significantly")
    compare.add_argument("baseline", type=Path, metavar="BASELINE", help="the baseline run directory")
    compare.add_argument("current", type=Path, metavar="CURRENT", help="the run directory to judge")
    argtypes.add_gate_arguments(compare)
    compare.add_argument("--metrics", type=argtypes.names, metavar="NAME,...",
                         help="judge only these metrics (default: all)")
    compare.add_argument("--force", action="store_true",
                         help="compare although the VMs ran under different accelerators (TCG vs KVM)")

    export = commands.add_parser("export", help="write a run's results for other tools")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument("--format", required=True, choices=tuple(exports.FORMATS),
                        help="pytest-benchmark: for `pytest-benchmark compare`; github-action-benchmark: "
                        "customSmallerIsBetter/customBiggerIsBetter files; csv: one row per trial; json")
    export.add_argument("-o", "--output", type=Path, metavar="PATH",
                        help="a file ('-' for stdout), or for github-action-benchmark a directory "
                        "(default: in RUN_DIR)")

    tune = commands.add_parser("tune", help="set the host's noise sources for measuring (governor, boost, IRQs, "
                               "irqbalance), the prior state saved first; --reset restores it")
    tune.add_argument("--reset", action="store_true", help="restore exactly the state saved by the last `bench tune`")
    tune.add_argument("--host", type=argtypes.host_profile, metavar="NAME",
                      help="the lab machine's profile (hosts/NAME.toml): which knobs to set")
    tune.add_argument("--cpus", type=argtypes.positive_int, default=1, metavar="N",
                      help="the instance CPUs to keep quiet: the last N the harness may use (default: 1, the "
                      "default suite's)")
    history_commands.add_parser(commands)
    commands.add_parser("clean", help="remove whatever a crashed run left behind (a crashed `run --tune`'s tuning too)")
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGINT and SIGTERM unwind the stack, so every `finally` removes what this command
    started; a run records the trial in flight as aborted."""
    if frame is not None and frame.f_code in engines.C_CALLBACK_CODES:
        # Inside a callback from C the exception would be lost: deliver the signal again
        # once control is back in Python.
        threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        args = build_parser().parse_args(argv)
        if args.cache_dir:
            os.environ["BENCH_CACHE_DIR"] = str(args.cache_dir.resolve())
        if args.workloads_dir:
            os.environ["BENCH_WORKLOADS_DIR"] = str(args.workloads_dir.resolve())
        progress = Progress(quiet=args.quiet)
        handler = HANDLERS[{"images": f"images {getattr(args, 'images_command', '')}",
                            "workload": f"workload {getattr(args, 'workload_command', '')}",
                            "history": f"history {getattr(args, 'history_command', '')}"}.get(args.command, args.command)]
        return handler(args, progress)
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def cmd_doctor(args: argparse.Namespace, progress: Progress) -> int:
    from bench.operations import doctor

    report = doctor.examine(progress, recheck=args.recheck, kvm_deadline=args.kvm_deadline)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0 if report.ok else 1


def cmd_images_build(args: argparse.Namespace, progress: Progress) -> int:
    from bench.definitions import workload
    from bench.images import build

    selection = workload.load_selection(args.workloads)
    manifest, users = build.build(selection, progress, args.kernel, args.initramfs)
    print(f"images ready for: {', '.join(sorted(manifest.workloads))}")
    for name in manifest.ARTIFACTS:
        artifact = getattr(manifest, name)
        print(f"  {name:<16} {artifact.bytes / 2**20:8.1f} MiB  {artifact.path}")
    print(f"manifest: {manifest.saved_path()}")
    for name, image in sorted(users.items()):
        print(f"user image for {name}: {image.source} {image.id[:19]}, {image.layers} layer(s), "
              f"{image.bytes / 2**20:.1f} MiB; tree {image.tree_sha256[:16]} ({image.tree_entries} entries); "
              f"{image.directory}")
    return 0


def cmd_images_show(args: argparse.Namespace, progress: Progress) -> int:
    from bench.images import manifest

    current = manifest.load()
    if args.json:
        print(json.dumps(current.to_json(), indent=2))
        return 0
    print(f"manifest {current.saved_path()}")
    print(f"  {current.suite} {current.variant} {current.arch}, {len(current.packages)} packages; "
          f"kernel: {current.kernel_source}")
    print(f"  workloads: {', '.join(sorted(current.workloads))}")
    for name in current.ARTIFACTS:
        artifact = getattr(current, name)
        print(f"  {name:<16} {artifact.sha256[:19]}  {artifact.bytes / 2**20:8.1f} MiB  {artifact.path}")
    return 0


def cmd_images_verify(args: argparse.Namespace, progress: Progress) -> int:
    from bench.host import engines
    from bench.images import container_image, manifest

    current = manifest.load()
    client = engines.docker_client()
    with progress.step("re-hashing every artifact"):
        problems = current.verify(container_image.find(client, current.rootfs_tar.sha256),
                                  {w: engines.image_id(client, a.path) for w, a in current.app_images.items()})
    for problem in problems:
        print(f"MISMATCH {problem}")
    if not problems:
        print(f"all {len(current.ARTIFACTS) + len(current.app_images)} artifacts match {current.saved_path()}")
    return 1 if problems else 0


def cmd_workload_init(args: argparse.Namespace, progress: Progress) -> int:
    from bench import config
    from bench.images import scaffold

    root = config.workloads_dir()
    made = scaffold.init(args.name, root, args.image, args.image_archive, args.force)
    print(f"workload: {made.workload}")
    print(f"suite: {made.suite}")
    where = f"--workloads-dir {root} " if args.workloads_dir else ""
    print(f"edit them, then: bench {where}run {made.suite}")
    return 0


def cmd_launch(args: argparse.Namespace, progress: Progress) -> int:
    from bench.definitions import workload
    from bench.run import trial

    outcome = trial.launch_once(workload.load(args.workload), args.platform, args.accel, progress)
    if args.json:
        print(json.dumps(outcome.to_json(), indent=2))
    else:
        print(outcome.summary())
    return 0 if outcome.ok else 1


def cmd_run(args: argparse.Namespace, progress: Progress) -> int:
    from bench.analysis import summary
    from bench.definitions import suite as suites
    from bench.run import runner
    from bench.rundir import results

    if args.resume and args.suite:
        raise BenchError("run: give a suite or --resume RUN_DIR, not both")
    if args.dry_run:
        if args.resume:
            raise BenchError("run: --dry-run plans a new run; it cannot resume one")
        print(runner.dry_run(suites.load(args.suite), args.accel))
        return 0
    from bench.model.resources import allot
    from bench.operations import tune

    profile = args.host
    choice = profile.tune if profile else hostprofile.TuneChoice()
    if args.resume:
        cpus = allot(runner.suite_of(args.resume).cpus, 0).cpuset
        with tune.for_run(args.tune, cpus, choice, progress) as tuned:
            finished = runner.resume(args.resume, progress, args.ignore_leftovers, tuned)
    else:
        chosen = suites.load(args.suite)
        root = args.output_dir or results.reports_root()
        with tune.for_run(args.tune, allot(chosen.cpus, 0).cpuset, choice, progress) as tuned:
            finished = runner.start(chosen, root, progress, args.accel, args.ignore_leftovers, profile, tuned)
    if profile is not None and finished.info.noise_floor is not None:
        hostprofile.record_noise_floor(profile, finished.info.noise_floor.cv, finished.info.started_at)
        progress.note(f"host profile {profile.path}: noise floor CV {finished.info.noise_floor.cv:.2%} recorded")
    from bench.report import findings, neighbours

    loaded = finished.loaded()
    records = runner.current_records(finished.records)
    print(summary.table_text(finished.summary, everything=args.all_metrics))
    print("\nThe classic claims, tested:\n" + findings.text(loaded) + "\n")
    if (noisy := neighbours.section(loaded)) is not None:
        print("Noisy neighbours:\n" + "\n".join(noisy.findings) + "\n")
    failed = [r for r in records if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(records)} trials did not succeed (see trials.jsonl)")
    run_dir = finished.run.path
    print(f"run directory: {run_dir}")
    if not args.no_report:
        from bench import report
        from bench.report.html import Options

        output = run_dir / "index.html"
        with progress.step("rendering the HTML report"):
            report.write([loaded], output, Options())
        print(f"report: {output}")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace, progress: Progress) -> int:
    from bench import report
    from bench.rundir import runs
    from bench.report.consolidation import HostSize
    from bench.report.html import Options
    from bench.rundir import results

    loaded = [runs.load(path) for path in args.run_dirs]
    output = args.output
    if output is None:
        if len(args.run_dirs) == 1:
            output = args.run_dirs[0] / "index.html"
        else:
            output = results.reports_root() / ("compare-" + "-vs-".join(p.resolve().name for p in args.run_dirs) + ".html")
    given = None
    if args.host_memory or args.host_disk:
        given = HostSize("the host you gave", args.host_memory, args.host_disk)
    with progress.step(f"rendering {output}"):
        report.write(loaded, output, Options(single_file=args.single_file, host=given,
                                             scenarios=tuple(args.scenario) if args.scenario else None))
    print(f"report: {output}")
    return 0


def cmd_compare(args: argparse.Namespace, progress: Progress) -> int:
    from bench.analysis import compare
    from bench.rundir import runs

    baseline, current = runs.load(args.baseline), runs.load(args.current)
    outcome = compare.compare(baseline, current, args.threshold, args.alpha, args.force, args.metrics)
    return argtypes.print_gate(outcome, args)


def cmd_export(args: argparse.Namespace, progress: Progress) -> int:
    from bench.rundir import runs

    run = runs.load(args.run_dir)
    for path in exports.export(run, args.format, args.output):
        print(f"export: {path}")
    return 0


def cmd_tune(args: argparse.Namespace, progress: Progress) -> int:
    from bench.model.resources import allot
    from bench.operations import tune

    if args.reset:
        for line in tune.reset():
            print(line)
        return 0
    cpus = allot(args.cpus, 0).cpuset
    choice = args.host.tune if args.host else hostprofile.TuneChoice()
    _, lines = tune.apply(cpus, "bench tune", choice)
    for line in lines:
        print(line)
    print(f"tuned for CPU {','.join(map(str, cpus))}; the prior state is saved in {tune.state_path()}: "
          "`bench tune --reset` restores it")
    return 0


def cmd_clean(args: argparse.Namespace, progress: Progress) -> int:
    from bench.operations import cleanup

    report, unreachable = cleanup.clean_all()
    for line in report:
        print(line)
    removed = sum(line.startswith("removed") for line in report)
    print(f"clean: {removed} leftover(s) removed")
    for line in unreachable:  # not "nothing found": that engine may still hold a crashed run's instances
        print(f"bench: error: clean: {line}", file=sys.stderr)
    return 1 if unreachable or any(line.startswith("could not") for line in report) else 0


HANDLERS = {
    "doctor": cmd_doctor,
    "images build": cmd_images_build,
    "images show": cmd_images_show,
    "images verify": cmd_images_verify,
    "workload init": cmd_workload_init,
    "launch": cmd_launch,
    "run": cmd_run,
    "report": cmd_report,
    "compare": cmd_compare,
    "export": cmd_export,
    "clean": cmd_clean,
    "tune": cmd_tune,
    **history_commands.HANDLERS,
}
