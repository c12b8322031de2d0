"""The network a workload may ask for: a run's private network per platform, and the host-side
servers its instances talk to.
"""
