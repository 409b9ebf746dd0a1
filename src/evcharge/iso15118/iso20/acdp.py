"""ISO 15118-20 ACDP messages (urn:iso:std:iso:15118:-20:ACDP).

Typed message classes and the EXI codec of this schema (see :mod:`evcharge.iso15118.iso2` for the
shape of the API): :func:`encode`, :func:`decode`, :func:`to_dict`, :func:`from_dict`, :func:`to_xml`,
:func:`from_xml`, and :func:`encode_fragment` for signed elements.
"""

from __future__ import annotations

from typing import Any

from evcharge._exi._generated import iso20_acdp as _generated
from evcharge._exi._generated.iso20_acdp import *  # noqa: F403  (the message classes)
from evcharge._exi.codec import SchemaCodec

NAMESPACE = "urn:iso:std:iso:15118:-20:ACDP"
#: the V2GTP payload type that carries this schema's messages
PAYLOAD_TYPE = 0x8005
codec = SchemaCodec(_generated, NAMESPACE)


def encode(message: Any, element: str | None = None) -> bytes:
    """Encode a root message of this schema as an EXI document.

    ``element`` names the root element when several global elements share the message's type
    (ACDP_ConnectReq and ACDP_DisconnectReq); otherwise it is found from the class.
    """
    return codec.encode(message, element)


def decode(data: bytes) -> Any:
    """Decode an EXI document of this schema."""
    return codec.decode(data)


def to_dict(message: Any, element: str | None = None) -> dict[str, Any]:
    """The JSON form of a root message (``{"<RootElement>": {...}}``)."""
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


def encode_fragment(element: Any) -> bytes:
    """Encode a signed element as an EXI fragment of this schema (the input of its digest).

    The encoder only ever writes the schema-typed, first-level event of each item, which is the
    Canonical EXI form that ISO 15118-20 prescribes for signed content.
    """
    return codec.encode_fragment(element)


def decode_fragment(data: bytes) -> list[tuple[str, Any]]:
    """Decode an EXI fragment of this schema: ``[(element name, object), ...]``."""
    return codec.decode_fragment(data)
