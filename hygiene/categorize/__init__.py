"""The categorization stage: open_clip embeddings of the survivors, scored against prompt sets."""
