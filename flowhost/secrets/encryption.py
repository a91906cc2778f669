"""Encryption at rest for secrets received through the API: Fernet (AES-128-CBC + HMAC-SHA256) from
``cryptography``, with the key from ``FLOWHOST_SECRET_KEY`` or a generated key file of mode 0600.

Fernet was chosen over hand-assembled AES-GCM because it is one well-reviewed call each way, authenticates
the ciphertext and versions its format; its timestamps are not used.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..data_files import write_private_file

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

SECRET_KEY_ENV = "FLOWHOST_SECRET_KEY"
KEY_FILE_NAME = "secret.key"


class SecretKeyError(RuntimeError):
    """The key cannot be read or does not open what the data directory holds; the message says what to do."""


class SecretBox:
    """Encrypts and decrypts text with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        # Checked here, as Fernet would check it, so that a wrong key stops flowhost at start; cryptography itself
        # (some 10 MB) is loaded only when a secret is first encrypted or decrypted.
        try:
            valid = len(base64.urlsafe_b64decode(key)) == 32
        except (ValueError, TypeError):
            valid = False
        if not valid:
            raise SecretKeyError(
                f"{SECRET_KEY_ENV} (or {KEY_FILE_NAME}) is not a Fernet key: 32 url-safe base64-encoded bytes, "
                'as made by python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            )
        self._key = key
        self._fernet_instance: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        if self._fernet_instance is None:
            from cryptography.fernet import Fernet

            self._fernet_instance = Fernet(self._key)
        return self._fernet_instance

    @classmethod
    def open(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> SecretBox:
        """The box for ``data_dir``: the key from the environment, else from (a new) ``data_dir/secret.key``."""
        environ = os.environ if environ is None else environ
        if environ.get(SECRET_KEY_ENV):
            return cls(environ[SECRET_KEY_ENV].strip().encode())
        path = data_dir / KEY_FILE_NAME
        if not path.exists():
            write_private_file(path, base64.urlsafe_b64encode(os.urandom(32)))  # what Fernet.generate_key() does
        return cls(path.read_bytes().strip())

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                f"a stored secret cannot be decrypted: {SECRET_KEY_ENV} or {KEY_FILE_NAME} is not the key it was "
                "stored with"
            ) from None
