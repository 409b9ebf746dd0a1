"""ISO 15118-2 messages (urn:iso:15118:2:2013:MsgDef).

Typed message classes (frozen, slotted dataclasses generated from the schema; the XSD names are in
each field's ``metadata["xsd"]``) and this schema's EXI codec, with the functions every message set
of :mod:`evcharge.iso15118` has:

- ``encode(message, element=None) -> bytes`` / ``decode(data) -> message``: EXI (the V2GTP payload)
- ``to_dict`` / ``from_dict``: the JSON form used by EXIficient and Josev
- ``to_xml`` / ``from_xml``: XML through lxml, valid against the schema
- ``encode_fragment(element)`` / ``decode_fragment(data)``: signed elements as EXI fragments, the
  input of their digests

Errors: :class:`~evcharge._exi.ExiDecodeError` (with the bit offset and element path) for input that
is not a valid stream, :class:`~evcharge._exi.ExiEncodeError` (naming the field) for a message that
breaks its schema.
"""

from __future__ import annotations

from evcharge._exi._generated import iso2 as _generated
from evcharge._exi._generated.iso2 import *  # noqa: F403  (the message classes)
from evcharge._exi.codec import SchemaCodec, signed_fragment_encoder
from evcharge._exi.errors import ExiDecodeError as ExiDecodeError
from evcharge._exi.errors import ExiEncodeError as ExiEncodeError

NAMESPACE = "urn:iso:15118:2:2013:MsgDef"
codec = SchemaCodec(_generated, NAMESPACE)

encode = codec.encode
decode = codec.decode
to_dict = codec.to_dict
from_dict = codec.from_dict
to_xml = codec.to_xml
from_xml = codec.from_xml
decode_fragment = codec.decode_fragment

encode_fragment = signed_fragment_encoder(codec)
