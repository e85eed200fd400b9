"""Benchmarks that print numbers (never timed tests): ``python -m bench …``."""
