"""The execution of a run: the plan and its schedule, one trial, density, the resources each
instance gets, the run directory, provenance, and the Sample record that flows from the probes
to the report.
"""
