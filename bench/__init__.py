"""vmct-bench: what isolation costs, measured on native, Docker and libvirt VMs."""

__version__ = "0.1.0"
