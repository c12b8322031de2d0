"""Host-side probes, one module each: boot phases, memory, CPU seconds, disk footprint.

Each probe measures from the host, the same way on every platform, and says how it measured
(the `probe` entry of every sample's metadata).
"""
