"""The vocabulary every package speaks: the Sample and its series key, the trial record, the
resources an instance gets, the platform registry, and units."""
