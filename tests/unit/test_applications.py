"""The report's Applications section, from a run of known numbers: each server workload's
throughput and p99 as ratios to native, the finding that names each platform's cost, and the
published figures beside this run's own."""

from __future__ import annotations

from pathlib import Path

from bench.cli.main import main
from bench.model import units
from bench.report import applications
from bench.rundir import runs
from tests.unit.synthetic_runs import write_run

WOBBLE = [1.0, 1.01, 0.99, 1.005, 0.995]
# GET ops/s and p99 ms at 1 and 50 clients: docker's published port costs 20 %, host
# networking nothing, the TCG VM three quarters.
SHARE = {"native": 1.0, "docker": 0.8, "docker-hostnet": 1.0, "vm": 0.25}
KINDS = {"get_ops_s": ("ops/s", "higher"), "get_p99_ms": ("ms", "lower")}
PATHS = {"native": "loopback: lo in the host's own network namespace",
         "docker": "Docker's default bridge docker0; the server's port 6379 published (-p) at 172.17.0.1:40000",
         "docker-hostnet": "the host's network namespace (--network host): loopback, no bridge, no NAT",
         "vm": "libvirt network vmctb-x-vm-net; virtio-net, the guest at 10.213.0.2/24"}


# The network path each platform's client took; docker's second path, its userland proxy on
# 127.0.0.1, costs 40 % where its DNAT costs 20 %.
ROUTES = {"native": ("host",), "docker": ("dnat", "proxy"), "docker-hostnet": ("host",), "vm": ("tap",)}
PROXY_SHARE = 0.6


def app_run(root: Path, proxy: bool = False) -> Path:
    values = {}
    for platform, share in SHARE.items():
        for path in ROUTES[platform][:2 if proxy else 1]:
            part = PROXY_SHARE if path == "proxy" else share
            for clients, native_ops in ((1, 14000.0), (50, 75000.0)):
                at = f"clients={clients};path={path}"
                values[("redis", platform, f"get_ops_s@{at}")] = [native_ops * part * w for w in WOBBLE]
                values[("redis", platform, f"get_p99_ms@{at}")] = [0.2 / part * w for w in WOBBLE]
    facts = {("redis", p): {"network_client": "redis-benchmark, redis-cli on the host, on host CPU 0",
                            "network_path": path} for p, path in PATHS.items()}
    return write_run(root, "apps-1", values, suite="apps", kinds=KINDS, facts=facts)


def test_docker_on_both_published_paths_is_two_columns_each_against_natives_loopback(tmp_path: Path) -> None:
    [table] = applications.tables(runs.load(app_run(tmp_path, proxy=True)))
    assert table.columns == ("docker (dnat)", "docker (proxy)", "docker-hostnet", "vm-minimal/tcg")
    assert [c.main for c in table.rows[0].cells] == ["0.8×", "0.6×", "1×", "0.25×"]
    assert "docker's published port on localhost (its userland proxy) cost 40 % (0.6×" in table.finding
    assert "docker's published port cost 20 % (0.8×" in table.finding
    assert table.curves is not None and "docker (proxy)" in table.curves and "docker (dnat)" in table.curves


def test_each_platforms_throughput_and_p99_is_a_ratio_to_native_with_its_ci(tmp_path: Path) -> None:
    [table] = applications.tables(runs.load(app_run(tmp_path)))
    assert table.workload == "redis" and table.columns == ("docker", "docker-hostnet", "vm-minimal/tcg")
    assert [row.label for row in table.rows] == ["get_ops_s at 1 client", "get_p99_ms at 1 client",
                                                 "get_ops_s at 50 clients", "get_p99_ms at 50 clients"]
    get_c1, p99_c1 = table.rows[0], table.rows[1]
    assert get_c1.native == units.human(14000.0, "ops/s")
    assert [c.main for c in get_c1.cells] == ["0.8×", "1×", "0.25×"]
    assert [c.main for c in p99_c1.cells] == ["1.25×", "1×", "4×"]  # slower is above 1×
    assert all(c.detail.startswith("95% CI [") for c in get_c1.cells)
    assert get_c1.cells[2].detail.endswith("; TCG emulation") and "TCG" not in get_c1.cells[0].detail
    assert table.tcg


def test_the_finding_names_each_platforms_cost_from_the_data(tmp_path: Path) -> None:
    [table] = applications.tables(runs.load(app_run(tmp_path)))
    finding = table.finding
    assert finding.startswith("redis get_ops_s at 1 client against native: docker's published port cost 20 % (0.8×, 95% CI [")
    assert "docker-hostnet's host network cost nothing within noise (1×, 95% CI [" in finding
    assert "vm-minimal/tcg cost 75 %" in finding and "(TCG: an emulator's cost, not a hypervisor's)" in finding
    assert "redis get_ops_s at 50 clients against native:" in finding


def test_published_figures_stand_beside_this_runs_own_for_the_same_pair(tmp_path: Path) -> None:
    [table] = applications.tables(runs.load(app_run(tmp_path)))
    beside = {(b.setting, b.theirs): b.ours for b in table.beside}
    ours = beside[("Redis GET, Docker with NAT (-p), 1 client", "0.78×")]
    assert ours.startswith("docker ÷ native at 1 client: 0.8× (95% CI")
    assert beside[("Redis GET, KVM, 100 clients", "0.9×")].startswith("vm-minimal/tcg ÷ native at 50 clients: 0.25×")
    # gVisor's guide is over runc; this run has no gvisor, and says so.
    gvisor = [ours for (setting, _), ours in beside.items() if "gVisor" in setting]
    assert gvisor and all(o.endswith("not measured in this run") for o in gvisor)
    assert all("Felter" in b.source or "gVisor" in b.source for b in table.beside)


def test_a_run_without_server_workloads_has_no_applications_section(tmp_path: Path) -> None:
    plain = write_run(tmp_path / "plain", "plain-1", {("cpu", "native", "score"): [3000.0, 3010.0],
                                                      ("cpu", "docker", "score"): [2990.0, 3000.0]})
    assert applications.tables(runs.load(plain)) == []
    assert main(["report", str(plain), "--output", str(tmp_path / "plain.html")]) == 0
    assert 'id="applications"' not in (tmp_path / "plain.html").read_text()


def test_the_report_shows_the_section_with_its_caveat(tmp_path: Path) -> None:
    run = app_run(tmp_path)
    assert main(["report", str(run), "--output", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    section = html[html.index('<section id="applications">'):html.index('<section id="charts">')]
    assert "<h3>redis</h3>" in section and 'href="#applications"' in html
    assert "The VMs ran under TCG emulation, not KVM" in section
    assert "Published figures, from other hardware" in section and "ISPASS 2015" in section


def test_a_ci_across_one_but_wide_is_too_wide_to_say_not_no_cost(tmp_path: Path) -> None:
    values = {("redis", "native", "get_ops_s@clients=1"): [10000.0, 10100.0, 9900.0],
              ("redis", "lxc", "get_ops_s@clients=1"): [6000.0, 10000.0, 14000.0]}
    facts = {("redis", p): {"network_client": "redis-benchmark"} for p in ("native", "lxc")}
    [table] = applications.tables(runs.load(write_run(tmp_path, "wide-1", values, kinds=KINDS, facts=facts)))
    assert "lxc could not be told apart from native (1×, 95% CI [0.205×, 4.35×]: too wide to say)" in table.finding
    assert table.finding.count("too wide to say") == 1 and "cost nothing" not in table.finding


def test_the_section_shows_in_a_real_browser_with_nothing_fetched(tmp_path: Path) -> None:
    from tests.browser import open_page

    assert main(["report", str(app_run(tmp_path)), "--output", str(tmp_path / "r.html")]) == 0
    seen = open_page(tmp_path / "r.html", ("applications", "verdict"), tmp_path / "shot.png")
    assert seen.visible == {"applications": True, "verdict": True}
    assert seen.requests == [] and seen.console_errors == [] and seen.page_errors == []


def test_throughput_and_p99_are_drawn_against_the_clients_from_the_dimension(tmp_path: Path) -> None:
    [table] = applications.tables(runs.load(app_run(tmp_path)))
    assert table.curves is not None and table.curves.startswith("<svg")
    for text in ("redis: against clients", "get_ops_s", "get_p99_ms", "docker-hostnet", "vm-minimal/tcg"):
        assert text in table.curves, text
    # One client value only: nothing to draw a curve through.
    values = {("redis", p, "get_ops_s@clients=1"): [10000.0, 10100.0] for p in ("native", "docker")}
    facts = {("redis", p): {"network_client": "redis-benchmark"} for p in ("native", "docker")}
    [single] = applications.tables(runs.load(write_run(tmp_path / "one", "one-1", values, kinds=KINDS, facts=facts)))
    assert single.curves is None
