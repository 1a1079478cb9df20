"""Leaf helpers that import nothing of ours: exit codes, privacy masks, fonts, geography, network limits."""
