"""The host, its engines and daemons: its facts, the Docker and libvirt connections, cgroups, the
VM accelerator verdict, `bench doctor`, subprocess helpers, live runs' leases and `bench clean`.
"""
