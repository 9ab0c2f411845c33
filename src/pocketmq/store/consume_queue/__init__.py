"""ConsumeQueues: per (topic, queue_id) files of 20-byte units pointing into the CommitLog."""
