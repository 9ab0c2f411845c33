"""The store's only async code: flush (group commit), next-segment allocation, retention."""
