from tests.realhost import host_network_unchanged, images, libvirt_firewall_primed, no_crashed_run_first, nothing_left_behind, real_runs  # noqa: F401  (fixtures)
