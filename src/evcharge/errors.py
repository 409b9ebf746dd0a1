"""The one error root of evcharge.

Every package subclasses these two (``evcharge.slac.errors.RemoteProtocolError`` is an
``evcharge.errors.RemoteProtocolError``), so one ``except`` catches misuse or a bad peer across the
whole library:

* :class:`LocalProtocolError`: *we* used the API wrongly (a command in a state that does not allow it,
  a value out of range). A bug in the caller; nothing was sent.
* :class:`RemoteProtocolError`: the *peer* sent something the protocol does not allow (garbage bytes,
  a message out of sequence, a wrong session id). ``hint`` says what the protocol answers it with: an
  ISO 15118 response code (``"FAILED_SequenceError"``), an OCPP CALLERROR code
  (``"FormatViolation"``), or ``None`` when the protocol's answer is to close the link.

:class:`MissingDependencyError` is raised when an optional dependency is not installed; its message
names the extra to install (``pip install "evcharge[slac]"``).
"""

from __future__ import annotations

__all__ = [
    "EvchargeError",
    "LocalProtocolError",
    "MissingDependencyError",
    "RemoteProtocolError",
    "require",
]


class EvchargeError(Exception):
    """Root of every error evcharge raises on purpose."""


class LocalProtocolError(EvchargeError):
    """The API was used wrongly (a local bug): nothing was sent to the peer.

    ``hint`` is optional here; cores may set it to the answer they would have had to give.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class RemoteProtocolError(EvchargeError):
    """The peer broke the protocol. ``hint`` is what the protocol answers with (a response code,
    an OCPP error code), or ``None`` when the answer is to close the connection."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class MissingDependencyError(EvchargeError, ModuleNotFoundError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, module: str, extra: str, *, feature: str | None = None) -> None:
        what = f"{feature} needs" if feature else "this needs"
        super().__init__(f'{what} the "{module}" package: pip install "evcharge[{extra}]"', name=module)
        self.module = module
        self.extra = extra


def require(module: str, extra: str, *, feature: str | None = None) -> object:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.split(".")[0] != exc.name.split(".")[0]:
            raise  # the module is there but one of *its* imports is missing: not ours to rename
        raise MissingDependencyError(module, extra, feature=feature) from exc
