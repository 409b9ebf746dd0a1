"""SupportedAppProtocol handshake messages (urn:iso:15118:2:2010:AppProtocol).

Typed message classes (frozen, slotted dataclasses generated from the schema; the XSD names are in
each field's ``metadata["xsd"]``) and the EXI codec of this schema family:

- :func:`encode` / :func:`decode`: message object <-> EXI bytes (the V2GTP payload)
- :func:`to_dict` / :func:`from_dict`: the JSON form used by EXIficient and Josev
- :func:`to_xml` / :func:`from_xml`: XML through lxml, valid against the schema

Errors: :class:`~evcharge._exi.ExiDecodeError` (with the bit offset and element path) for input that
is not a valid stream, :class:`~evcharge._exi.ExiEncodeError` (naming the field) for a message that
breaks its schema.
"""

from __future__ import annotations

from typing import Any

from evcharge._exi._generated import app_protocol as _generated
from evcharge._exi._generated.app_protocol import *  # noqa: F403  (the message classes)
from evcharge._exi.codec import SchemaCodec
from evcharge._exi.errors import ExiDecodeError as ExiDecodeError
from evcharge._exi.errors import ExiEncodeError as ExiEncodeError

NAMESPACE = "urn:iso:15118:2:2010:AppProtocol"
codec = SchemaCodec(_generated, NAMESPACE)


def encode(message: Any, element: str | None = None) -> bytes:
    """Encode a root message (supportedAppProtocolReq) as an EXI document."""
    return codec.encode(message, element)


def decode(data: bytes) -> Any:
    """Decode an EXI document into its root message object."""
    return codec.decode(data)


def to_dict(message: Any, element: str | None = None) -> dict[str, Any]:
    """The JSON form of a root message, e.g. ``{"supportedAppProtocolReq": {...}}``."""
    return codec.to_dict(message, element)


def from_dict(data: dict[str, Any]) -> Any:
    """Build a root message from its JSON form."""
    return codec.from_dict(data)


def to_xml(message: Any, element: str | None = None) -> bytes:
    """The message as an XML document (UTF-8 bytes)."""
    return codec.to_xml(message, element)


def from_xml(xml: bytes | str) -> Any:
    """Parse an XML document into the root message object."""
    return codec.from_xml(xml)
