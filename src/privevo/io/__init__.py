"""Atomic reads and writes of open-format artifacts, and the one validator of image batches."""
