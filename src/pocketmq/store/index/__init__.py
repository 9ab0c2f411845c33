"""IndexFiles: hash index from `topic#key` (UNIQ_KEY and each KEYS entry) to CommitLog offsets."""
