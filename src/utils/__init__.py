"""The original design's utility modules, re-exporting the package's own functions (no second copy)."""
