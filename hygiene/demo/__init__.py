"""The demo and test archives: a seeded generator of photo archives with known ground truth."""
