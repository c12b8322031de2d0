"""Where an interference trial's victim, neighbour and harness run, on hosts of 1, 2 and 16 CPUs."""

from __future__ import annotations

import pytest

from bench.model.resources import PlacementError, place_pair

ONE, TWO, SIXTEEN = [0], [0, 1], list(range(16))


def test_same_cpu_shares_the_instance_cpus_and_keeps_the_harness_apart_where_it_can() -> None:
    two = place_pair("same-cpu", 1, 512, TWO)
    assert two.victim.cpuset == two.neighbour.cpuset == (1,) and two.harness_cpus == (0,)
    # One CPU: nothing can be kept apart; everything shares it, as a one-instance trial does.
    one = place_pair("same-cpu", 1, 512, ONE)
    assert one.victim.cpuset == one.neighbour.cpuset == one.harness_cpus == (0,)
    wide = place_pair("same-cpu", 4, 1024, SIXTEEN)
    assert wide.victim.cpuset == (12, 13, 14, 15) and wide.harness_cpus == tuple(range(12))
    assert wide.neighbour.memory_mib == wide.victim.memory_mib == 1024


def test_other_cpu_puts_the_neighbour_beside_the_victim_and_the_harness_on_its_own() -> None:
    placed = place_pair("other-cpu", 2, 512, SIXTEEN)
    assert placed.victim.cpuset == (14, 15) and placed.neighbour.cpuset == (12, 13)
    assert placed.harness_cpus == tuple(range(12))
    assert not set(placed.victim.cpuset) & set(placed.neighbour.cpuset)
    assert placed.describe() == "other-cpu: victim on CPU 14,15, neighbour on CPU 12,13, harness on CPU " + \
        ",".join(map(str, range(12)))
    assert place_pair("other-cpu", 1, 512, [0, 1, 2]).harness_cpus == (0,)


@pytest.mark.parametrize("allowed, cpus, message", [
    (TWO, 1, "other-cpu needs 3 CPUs (1 for the victim, 1 for the neighbour, 1 for the harness); this host offers 2: use same-cpu here"),
    (ONE, 1, "other-cpu needs 3 CPUs (1 for the victim, 1 for the neighbour, 1 for the harness); this host offers 1: use same-cpu here"),
    (SIXTEEN, 8, "other-cpu needs 17 CPUs (8 for the victim, 8 for the neighbour, 1 for the harness); this host offers 16"),
    (TWO, 3, "other-cpu: 3 CPU(s) per instance asked for, this host offers 2"),
])
def test_a_host_too_small_for_other_cpu_is_told_in_one_line(allowed: list[int], cpus: int, message: str) -> None:
    with pytest.raises(PlacementError) as err:
        place_pair("other-cpu", cpus, 512, allowed)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_unknown_placement_is_named() -> None:
    with pytest.raises(PlacementError, match="'next-door' is not a placement: one of same-cpu, other-cpu"):
        place_pair("next-door", 1, 512, SIXTEEN)
