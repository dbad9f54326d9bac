"""Benchmark harness: data, splits, the fair-comparison protocol and its command line."""

from awgnn.harness.data import load_dataset, load_planetoid, resolve_data_root

__all__ = ["load_dataset", "load_planetoid", "resolve_data_root"]
