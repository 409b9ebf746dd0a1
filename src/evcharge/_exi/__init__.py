"""Schema-informed EXI codec for the V2G messages (internal; use :mod:`evcharge.iso15118`).

``BACKEND`` is ``"cython"`` when the compiled runtime is loaded and ``"python"`` when its
pure-Python twin is (no compiler at install time, or ``EVCHARGE_EXI_BACKEND=python``).
"""

from __future__ import annotations

from evcharge._exi._backend import BACKEND, runtime
from evcharge._exi.errors import ExiDecodeError, ExiEncodeError, ExiError

BitReader = runtime.BitReader
BitWriter = runtime.BitWriter

__all__ = ["BACKEND", "BitReader", "BitWriter", "ExiDecodeError", "ExiEncodeError", "ExiError"]
