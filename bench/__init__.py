"""Benchmarks for firstresponder (not shipped; see bench/README.md)."""
