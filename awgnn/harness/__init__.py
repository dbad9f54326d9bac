"""Benchmark harness: data, splits, the fair-comparison protocol and its command line."""
