"""Vocabulary shared by every layer: messages, queues, topics, flags, ids, the clock and errors."""
