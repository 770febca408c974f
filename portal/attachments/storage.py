"""Where attachment bytes live: a small interface (put, open, delete by key) and its folder
backend. An object store fits the same three calls; several web nodes and workers share one
folder by mounting it at the same ``UPLOAD_DIR``."""
import os
import re
import secrets
from typing import BinaryIO, Protocol

from flask import current_app

# Keys are made by the service (``<ticket id>/<attachment id>.<ext>``), never by a client;
# anything else is refused so that no key can name a path outside the folder.
_KEY = re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


class Storage(Protocol):
    """What the attachments service needs from a backend."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (complete or not at all; replaces what was there)."""

    def open(self, key: str) -> BinaryIO:
        """A binary file object to read the bytes; FileNotFoundError when there are none."""

    def delete(self, key: str) -> None:
        """Remove the bytes under ``key``; a missing key is not an error."""


class FolderStorage:
    """Files in a folder: ``<root>/<ticket id>/<attachment id>.<ext>``."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def _path(self, key: str) -> str:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"not a storage key: {key!r}")
        return os.path.join(self.root, *key.split("/"))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Written aside and renamed into place: a reader never sees half a file, and a crash
        # leaves only a dot-file that no key names.
        partial = os.path.join(os.path.dirname(path), f".{secrets.token_hex(8)}.partial")
        try:
            with open(partial, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)
        except BaseException:
            _remove(partial)
            raise

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        # The ticket's folder stays: removing it could race a concurrent put into it.
        _remove(self._path(key))


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def storage() -> Storage:
    """The app's storage backend (the folder ``UPLOAD_DIR``)."""
    return FolderStorage(current_app.config["UPLOAD_DIR"])
