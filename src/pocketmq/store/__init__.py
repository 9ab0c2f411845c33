"""The on-disk message store: CommitLog, ConsumeQueues, IndexFiles, flush, recovery and retention."""
