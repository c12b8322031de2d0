"""The command line: the `bench` commands and their arguments, and the progress and warnings they
print.
"""
