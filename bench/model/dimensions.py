"""The dimensions the harness itself gives figures (a workload's client adds its own: clients,
connections). A dimension is a condition of a figure, never part of the metric's name."""

STRESS = "stress"  # the neighbour's stress a victim's figure was measured beside (interference)
PATH = "path"  # how a server's host-side client reached it: host, dnat, proxy, bridge, tap (net.servers)

# A server's `path`: how the host's client reached it.
HOST = "host"  # loopback in the host's own network namespace (native, --network host)
DNAT = "dnat"  # a published port through the engine's iptables DNAT, then its bridge
PROXY = "proxy"  # a published port on 127.0.0.1 through Docker's userland proxy (docker-proxy)
BRIDGE = "bridge"  # straight to the instance's address on a bridge, a veth pair, no NAT
TAP = "tap"  # to a VM's address on the run's libvirt bridge: a tap device and virtio-net
