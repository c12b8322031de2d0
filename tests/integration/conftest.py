from tests.realhost import images, nothing_left_behind  # noqa: F401  (fixtures)
