from tests.realhost import images, no_crashed_run_first, nothing_left_behind  # noqa: F401  (fixtures)
