"""The guest side: the scripts that run inside every instance (init, launcher), the READY/RESULT
protocol they speak, the console the harness reads it from, and a libvirt guest's lifecycle.
"""
