"""An Ed448 signing key held as its secret scalar: the contract key an ISO 15118-20 car installs with X448.

ISO 15118-20 transports the 448-bit contract private key of an Ed448 contract certificate in
``X448_EncryptedPrivateKey`` ([V2G20-2500] .. [V2G20-2502]) and has the EVCC check that the value is smaller
than the order of the base point and that it gives the certificate's public key ([V2G20-2510]). An RFC 8032
private key is a 57-byte *seed*, not a 448-bit number, so our reading is: the 448-bit value is the secret
scalar ``s`` that RFC 8032 §5.2.5 derives from the seed (the clamped first 57 bytes of SHAKE256(seed, 114),
little-endian), reduced modulo the group order L, written as 56 bytes big-endian; the public key is
``encode(s * B)``.

A car that holds only ``s`` cannot use RFC 8032's deterministic nonce (it needs the other half of the seed's
hash), and ``cryptography`` signs from a seed only; :class:`Ed448ScalarKey` therefore signs with the RFC 8032
signature equation and a fresh random nonce: ``r`` from SHAKE256(random || s || M) mod L, ``R = encode(r * B)``,
``k = SHAKE256(dom4(0, "") || R || A || M, 114) mod L``, ``S = (r + k * s) mod L``, signature ``R || S``
(114 bytes). Any Ed448 verifier accepts it (the tests check it with ``cryptography``'s ``Ed448PublicKey``).

The edwards448 arithmetic here is plain Python integers (projective coordinates, RFC 8032 §5.2.4 formulas, a
table of multiples of B built on first use): a signature costs a few milliseconds. It is not written to be
constant-time (Python integers are not): fine for test benches and simulated cars, not for a key that must resist
timing measurements on the same host.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ed448

__all__ = ["ED448_ORDER", "Ed448ScalarKey", "ed448_public_bytes", "ed448_scalar_of"]

#: the field prime of edwards448 (RFC 8032 §5.2)
_P = 2**448 - 2**224 - 1
#: the curve constant d of x^2 + y^2 = 1 + d x^2 y^2
_D = -39081 % _P
#: the order L of the base point (RFC 8032 §5.2)
ED448_ORDER = 2**446 - 13818066809895115352007386748515426880336692474882178609894547503885
#: the base point B (RFC 8032 §5.2)
_BX = 224580040295924300187604334099896036246789641632564134246125461686950415467406032909029192869357953282578032075146446173674602635247710  # noqa: E501
_BY = 298819210078481492676017930443930673437544040154080242095928241372331506189835876003536878655418784733982303233503462500531545062832660  # noqa: E501
_DOM4 = b"SigEd448" + bytes((0, 0))  # dom4(0, ""): pure Ed448, empty context (RFC 8032 §5.2)

_Point = tuple[int, int, int]  # projective (X, Y, Z): x = X/Z, y = Y/Z


def _add(p: _Point, q: _Point) -> _Point:
    x1, y1, z1 = p
    x2, y2, z2 = q
    a = z1 * z2 % _P
    b = a * a % _P
    c = x1 * x2 % _P
    d = y1 * y2 % _P
    e = _D * c % _P * d % _P
    f = (b - e) % _P
    g = (b + e) % _P
    h = (x1 + y1) * (x2 + y2) % _P
    return (a * f % _P * (h - c - d) % _P, a * g % _P * (d - c) % _P, f * g % _P)


def _double(p: _Point) -> _Point:
    x1, y1, z1 = p
    b = (x1 + y1) * (x1 + y1) % _P
    c = x1 * x1 % _P
    d = y1 * y1 % _P
    e = (c + d) % _P
    h = z1 * z1 % _P
    j = (e - 2 * h) % _P
    return ((b - e) * j % _P, e * (c - d) % _P, e * j % _P)


_WINDOW = 4
_TABLE: list[list[_Point]] = []  # _TABLE[i][j] = j * 16^i * B, built on first use (112 x 16 points)


def _table() -> list[list[_Point]]:
    if not _TABLE:
        base: _Point = (_BX, _BY, 1)
        for _ in range(448 // _WINDOW):
            row: list[_Point] = [(0, 1, 1), base]
            for _ in range(2, 1 << _WINDOW):
                row.append(_add(row[-1], base))
            _TABLE.append(row)
            for _ in range(_WINDOW):
                base = _double(base)
    return _TABLE


def _multiply_base(scalar: int) -> _Point:
    """``scalar * B`` for 0 <= scalar < 2^448, by fixed 4-bit windows over a table of multiples of B."""
    result: _Point = (0, 1, 1)
    mask = (1 << _WINDOW) - 1
    for row in _table():
        result = _add(result, row[scalar & mask])  # the identity for a zero digit: the same work every window
        scalar >>= _WINDOW
    return result


def _encode(point: _Point) -> bytes:
    x, y, z = point
    inverse = pow(z, _P - 2, _P)
    x, y = x * inverse % _P, y * inverse % _P
    return (y | ((x & 1) << 455)).to_bytes(57, "little")


def ed448_scalar_of(key: ed448.Ed448PrivateKey) -> int:
    """The secret scalar of an RFC 8032 Ed448 key, reduced modulo L: the clamped first half of
    SHAKE256(seed, 114) (the two low bits cleared, bit 447 set, the last byte zero)."""
    digest = bytearray(hashlib.shake_256(key.private_bytes_raw()).digest(114)[:57])
    digest[0] &= 0xFC
    digest[56] = 0
    digest[55] |= 0x80
    return int.from_bytes(digest, "little") % ED448_ORDER


def ed448_public_bytes(scalar: int) -> bytes:
    """The 57-byte Ed448 public key ``encode(scalar * B)``."""
    return _encode(_multiply_base(scalar % ED448_ORDER))


@dataclass(frozen=True, slots=True)
class Ed448ScalarKey:
    """An Ed448 private key given by its secret scalar (0 < s < L): signs like an Ed448 key (with a random nonce,
    see the module text), gives its public key, and is the 448-bit value of ``X448_EncryptedPrivateKey``."""

    scalar: int
    _public: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.scalar < ED448_ORDER:
            raise ValueError("an Ed448 secret scalar is between 1 and the group order L - 1 [V2G20-2510]")
        object.__setattr__(self, "_public", ed448_public_bytes(self.scalar))

    @classmethod
    def from_private_key(cls, key: ed448.Ed448PrivateKey) -> Ed448ScalarKey:
        """The scalar form of an RFC 8032 key (same public key, same signatures' verifier)."""
        return cls(ed448_scalar_of(key))

    @classmethod
    def from_bytes(cls, data: bytes) -> Ed448ScalarKey:
        """From the 56-byte big-endian form of ``X448_EncryptedPrivateKey``'s plaintext."""
        if len(data) != 56:
            raise ValueError(f"an Ed448 secret scalar is 56 bytes, not {len(data)}")
        return cls(int.from_bytes(data, "big"))

    def to_bytes(self) -> bytes:
        """The 448-bit key, big-endian ([V2G20-2501])."""
        return self.scalar.to_bytes(56, "big")

    def public_bytes_raw(self) -> bytes:
        """The 57-byte RFC 8032 encoding of the public key."""
        return self._public

    def public_key(self) -> ed448.Ed448PublicKey:
        return ed448.Ed448PublicKey.from_public_bytes(self._public)

    def sign(self, data: bytes) -> bytes:
        """An Ed448 (pure, empty context) signature of ``data``: R (57 bytes) || S (57 bytes)."""
        seed = hashlib.shake_256(os.urandom(57) + self.to_bytes() + data).digest(114)
        r = int.from_bytes(seed, "little") % ED448_ORDER
        big_r = _encode(_multiply_base(r))
        k = int.from_bytes(hashlib.shake_256(_DOM4 + big_r + self._public + data).digest(114), "little")
        s = (r + k % ED448_ORDER * self.scalar) % ED448_ORDER
        return big_r + s.to_bytes(57, "little")
