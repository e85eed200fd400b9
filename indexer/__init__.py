"""Command-line indexer: ``python -m indexer [--corpus DIR] [--index-dir DIR] [--rebuild]``."""
