"""Errors raised by kb_app.

Every message is Swedish, complete and says what to do. Library errors are wrapped where the
library is imported; only the boundaries (indexer, CLI, UI) catch ``KbError``.

    KbError
    ├── ConfigError        a KB_* setting has a bad value
    ├── CorpusError        a document cannot be read or parsed
    ├── ModelError         the embedding model cannot be prepared or loaded
    ├── StoreError         the vector store cannot be opened or written
    │   └── StoreUnreachableError   the Chroma server does not answer
    ├── IndexMissingError  no index has been built yet
    ├── IndexDamagedError  the published index is damaged and could not be rebuilt here
    └── IndexBusyError     another process is writing the index
"""

from __future__ import annotations

DAMAGED = "Indexet är skadat: kör python -m indexer"  # how every IndexDamagedError message begins


class KbError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(KbError):
    """Raised when a setting read from the environment is invalid."""


class CorpusError(KbError):
    """Raised when a document cannot be read: unsupported, corrupt, encrypted, empty, too big."""


class ModelError(KbError):
    """Raised when the embedding model cannot be converted or loaded."""


class StoreError(KbError):
    """Raised when the Chroma store cannot be opened, read or written."""


class StoreUnreachableError(StoreError):
    """Raised when a configured Chroma server does not answer."""


class IndexMissingError(KbError):
    """Raised when a search is attempted before any index has been built."""


class IndexDamagedError(KbError):
    """Raised when the published index is damaged and this process cannot rebuild it.

    The message always begins with ``DAMAGED`` ("Indexet är skadat: kör python -m indexer"), then
    says in brackets what is damaged.
    """


class IndexBusyError(KbError):
    """Raised when another process holds the index's write lock."""
