"""Secrets, in one place.

- ``references``: ``!secret NAME`` / ``!env_var NAME`` in flow files, the ``Secret`` value that remembers its name,
  and their resolution from ``FLOWHOST_SECRET_<NAME>`` and ``secrets.yaml``;
- ``encryption``: the Fernet box, keyed by ``FLOWHOST_SECRET_KEY`` or the data directory's ``secret.key``;
- ``store``: the secrets received through the API, encrypted in ``secrets.json``, and the resolver that reads them;
- ``policy``: which fields are secret, how the API masks them and keeps new values as references.

Modules of flowhost import the submodule they use, so that importing one loads no more than it needs.
"""

from .encryption import KEY_FILE_NAME, SECRET_KEY_ENV, SecretBox, SecretKeyError
from .policy import MASK, SecretPolicy
from .references import SECRET_ENV_PREFIX, EnvRef, Secret, SecretNotFound, SecretRef, SecretResolver
from .store import SecretStore, StoreSecretResolver

__all__ = [
    "KEY_FILE_NAME",
    "MASK",
    "SECRET_ENV_PREFIX",
    "SECRET_KEY_ENV",
    "EnvRef",
    "Secret",
    "SecretBox",
    "SecretKeyError",
    "SecretNotFound",
    "SecretPolicy",
    "SecretRef",
    "SecretResolver",
    "SecretStore",
    "StoreSecretResolver",
]
