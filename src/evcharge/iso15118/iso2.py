"""ISO 15118-2 messages (urn:iso:15118:2:2013:MsgDef).

Typed message classes (frozen, slotted dataclasses generated from the schema; the XSD names are in
each field's ``metadata["xsd"]``) and the EXI codec of this schema family:

- :func:`encode` / :func:`decode`: message object <-> EXI bytes (the V2GTP payload)
- :func:`to_dict` / :func:`from_dict`: the JSON form used by EXIficient and Josev
- :func:`to_xml` / :func:`from_xml`: XML through lxml, valid against the schema
- :func:`encode_fragment`: a signed element as an EXI fragment (the digest input)

Errors: :class:`~evcharge._exi.ExiDecodeError` (with the bit offset and element path) for input that
is not a valid stream, :class:`~evcharge._exi.ExiEncodeError` (naming the field) for a message that
breaks its schema.
"""

from __future__ import annotations

from typing import Any

from evcharge._exi._generated import iso2 as _generated
from evcharge._exi._generated.iso2 import *  # noqa: F403  (the message classes)
from evcharge._exi.codec import SchemaCodec
from evcharge._exi.errors import ExiDecodeError as ExiDecodeError
from evcharge._exi.errors import ExiEncodeError as ExiEncodeError

NAMESPACE = "urn:iso:15118:2:2013:MsgDef"
codec = SchemaCodec(_generated, NAMESPACE)


def encode(message: Any, element: str | None = None) -> bytes:
    """Encode a root message (V2G_Message) as an EXI document."""
    return codec.encode(message, element)


def decode(data: bytes) -> Any:
    """Decode an EXI document into its root message object."""
    return codec.decode(data)


def to_dict(message: Any, element: str | None = None) -> dict[str, Any]:
    """The JSON form of a root message, e.g. ``{"V2G_Message": {...}}``."""
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
    """Encode a signed element as an EXI fragment, the input of its SHA-256 digest.

    An xmldsig ``SignedInfo`` is encoded with the xmldsig schema's fragment grammar (what is
    signed); any other element (``AuthorizationReq``, ``SalesTariff``, ``ContractSignatureCertChain``,
    ...) with this schema's fragment grammar (what the ``Reference`` digests cover).
    """
    if type(element).__xsd_type__ == "SignedInfoType":
        from evcharge._exi._generated import xmldsig as _xmldsig_generated

        xmldsig = SchemaCodec(_xmldsig_generated, "http://www.w3.org/2000/09/xmldsig#")
        converted = xmldsig.fragment_from_dict({"SignedInfo": codec.fragment_to_dict(element)})
        return xmldsig.encode_fragment(converted)
    return codec.encode_fragment(element)


def decode_fragment(data: bytes) -> list[tuple[str, Any]]:
    """Decode an EXI fragment of this schema: ``[(element name, object), ...]``."""
    return codec.decode_fragment(data)
