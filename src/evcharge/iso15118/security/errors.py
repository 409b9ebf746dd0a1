"""Typed errors of the security layer. ``hint`` is the ISO 15118 response code the SECC answers with."""

from __future__ import annotations

from evcharge.errors import RemoteProtocolError

__all__ = ["CertificateError", "CertificateExpiredError", "ContractKeyError", "SignatureError"]


class CertificateError(RemoteProtocolError):
    """A certificate chain failed a check of the standard (path, signature, key usage, DC, ...)."""

    def __init__(self, message: str, *, hint: str | None = "FAILED_CertChainError") -> None:
        super().__init__(message, hint=hint)


class CertificateExpiredError(CertificateError):
    """A certificate of the chain is outside its validity period."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="FAILED_CertificateExpired")


class SignatureError(RemoteProtocolError):
    """The header Signature does not verify: a digest or the signature value is wrong, or the
    SignedInfo uses an algorithm the message set does not allow (FAILED_SignatureError)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="FAILED_SignatureError")


class ContractKeyError(RemoteProtocolError):
    """The encrypted contract private key cannot be decrypted or does not match its certificate
    (the EVCC rejects the CertificateInstallationRes/UpdateRes: [V2G20-2504], [V2G20-2507])."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=None)
