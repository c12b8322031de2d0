"""What is measured, as data: workloads and suites read from TOML, and the checks that give a bad
file a one-line error.
"""
