"""The broker: metadata (topics, groups, offsets, filters), request handlers and the message store."""
