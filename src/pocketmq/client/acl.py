"""Request signing for brokers and name servers with ACL enabled (Java AclClientRPCHook, AclUtils).

Before a request leaves, `AccessKey` (and `SecurityToken`, if any) join its extFields; the values of
all extFields, ordered by key, are concatenated, the body appended, and the HMAC-SHA1 of those bytes
under the secret key, Base64-encoded, is added as `Signature`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Final

from pocketmq.protocol.command import RemotingCommand

__all__ = ["SessionCredentials", "sign_request", "ACCESS_KEY", "SECURITY_TOKEN", "SIGNATURE"]

#: extFields names (Java SessionCredentials).
ACCESS_KEY: Final = "AccessKey"
SECURITY_TOKEN: Final = "SecurityToken"
SIGNATURE: Final = "Signature"


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    """An ACL account (Java SessionCredentials)."""

    access_key: str
    secret_key: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


def signature_of(request: RemotingCommand, secret_key: str) -> str:
    """Base64(HMAC-SHA1(secret, values of extFields ordered by key (Signature left out) + body))."""
    ext = request.ext_fields
    content = "".join(request.ext_str(key) or "" for key in sorted(ext) if key != SIGNATURE).encode()
    if request.body:
        content += request.body
    digest = hmac.new(secret_key.encode(), content, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sign_request(request: RemotingCommand, credentials: SessionCredentials) -> RemotingCommand:
    """Add AccessKey, SecurityToken and Signature to `request` (in place; returned for chaining)."""
    ext = request.ext_fields
    ext[ACCESS_KEY] = credentials.access_key
    if credentials.security_token is not None:
        ext[SECURITY_TOKEN] = credentials.security_token
    ext[SIGNATURE] = signature_of(request, credentials.secret_key)
    return request
