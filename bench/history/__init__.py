"""The results history: runs of many hosts in one store, change points over it, a CI gate.

store and schema hold it (SQLite or PostgreSQL); ingest and csvio fill it; changepoints finds
where a series moved; detect applies that to every host × series; gate judges a new run
against its series' stable segment. Its command line is cli/history.py.
"""
