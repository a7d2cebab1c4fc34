"""The duplicate stage: exact and pixel copies, near-duplicate candidates confirmed on thumbnails,
keepers and groups."""
