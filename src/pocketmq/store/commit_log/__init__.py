"""The CommitLog: record layout (record.py) and the append/read/scan log (commit_log.py)."""
