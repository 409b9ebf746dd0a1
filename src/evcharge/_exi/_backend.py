"""Choose the EXI runtime backend, in this one place.

The compiled extension ``evcharge._exi._runtime_c`` and the pure-Python module
``evcharge._exi._runtime`` are built from the same source file.  The compiled one is used when it
was built; setting ``EVCHARGE_EXI_BACKEND=python`` in the environment forces the pure one (the
test suite runs both).
"""

from __future__ import annotations

import os
from types import ModuleType


def _load() -> tuple[ModuleType, str]:
    wanted = os.environ.get("EVCHARGE_EXI_BACKEND", "").strip().lower()
    if wanted not in ("", "cython", "python"):
        raise ImportError(f"EVCHARGE_EXI_BACKEND must be 'cython' or 'python', not {wanted!r}")
    if wanted != "python":
        try:
            from evcharge._exi import _runtime_c  # type: ignore[attr-defined]
        except ImportError:
            if wanted == "cython":
                raise ImportError(
                    "EVCHARGE_EXI_BACKEND=cython, but the compiled EXI runtime is not built "
                    "(install Cython and a C compiler, then reinstall evcharge)"
                ) from None
        else:
            return _runtime_c, "cython"
    from evcharge._exi import _runtime

    return _runtime, "python"


runtime, BACKEND = _load()
