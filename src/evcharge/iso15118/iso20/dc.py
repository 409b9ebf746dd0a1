"""ISO 15118-20 DC messages (urn:iso:std:iso:15118:-20:DC).

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

from evcharge._exi._generated import iso20_dc as _generated
from evcharge._exi._generated.iso20_dc import *  # noqa: F403  (the message classes)
from evcharge._exi.codec import SchemaCodec
from evcharge._exi.errors import ExiDecodeError as ExiDecodeError
from evcharge._exi.errors import ExiEncodeError as ExiEncodeError

NAMESPACE = "urn:iso:std:iso:15118:-20:DC"
#: the V2GTP payload type that carries this schema's messages
PAYLOAD_TYPE = 0x8004
codec = SchemaCodec(_generated, NAMESPACE)

encode = codec.encode
decode = codec.decode
to_dict = codec.to_dict
from_dict = codec.from_dict
to_xml = codec.to_xml
from_xml = codec.from_xml
encode_fragment = codec.encode_fragment
decode_fragment = codec.decode_fragment
