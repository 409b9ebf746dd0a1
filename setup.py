"""Build script for evcharge.

The EXI runtime is written once, in Cython's pure-Python mode.  When Cython and a C compiler are
available the same source file is compiled to a C extension (``<module>_c``); otherwise the
plain ``.py`` file is used as it is and a warning says so.  ``evcharge._exi.BACKEND`` tells which
one was loaded at run time.
"""

from __future__ import annotations

import os
import sys
import warnings

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

# Pure-Python-mode sources under src/evcharge/_exi compiled to "<name>_c" extensions.
CYTHON_SOURCES = {
    "evcharge._exi._runtime_c": "src/evcharge/_exi/_runtime.py",
}

FALLBACK_WARNING = (
    "evcharge: the compiled EXI runtime could not be built ({reason}); installing the pure-Python "
    "twin of the same source instead. Everything works, EXI encoding and decoding is slower. "
    "Install Cython>=3 and a C compiler to get the compiled backend."
)


class OptionalBuildExt(build_ext):
    """Compile the extensions, but fall back to the pure-Python twin on any build failure."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # compiler missing: distutils raises its own error types
            self._fallback(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._fallback(exc)

    @staticmethod
    def _fallback(exc: BaseException) -> None:
        msg = FALLBACK_WARNING.format(reason=f"{type(exc).__name__}: {exc}")
        warnings.warn(msg, stacklevel=1)
        print("WARNING: " + msg, file=sys.stderr)


def extensions() -> list[Extension]:
    if os.environ.get("EVCHARGE_NO_EXTENSIONS"):
        print("WARNING: EVCHARGE_NO_EXTENSIONS is set: installing the pure-Python EXI runtime.", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        warnings.warn(FALLBACK_WARNING.format(reason="Cython is not installed"), stacklevel=1)
        print("WARNING: " + FALLBACK_WARNING.format(reason="Cython is not installed"), file=sys.stderr)
        return []
    exts = [
        Extension(name, [path], extra_compile_args=["-O2"])
        for name, path in CYTHON_SOURCES.items()
    ]
    return cythonize(
        exts,
        build_dir="build/cython",
        include_path=["src"],
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
        quiet=True,
    )


EXTRAS = {
    "slac": ["scapy>=2.5,<3"],
    # protobuf: the runtime of the committed yeti_pb2.py (protoc 35.1 gencode 7.35.1 needs a 7.x runtime >= 7.35.1);
    # cobs: the C COBS codec of the Yeti framing
    "bsp": ["pyserial>=3.5,<4", "pymodbus>=3.11,<4", "protobuf>=7.35.1,<8", "cobs>=1.2,<2"],
    "iso15118": ["cryptography>=41,<50", "lxml>=4.9,<7"],
    "ocpp": ["websockets>=12,<18"],
    "csms": ["websockets>=12,<18", "cryptography>=41,<50", "asyncpg>=0.29,<1"],  # evcharge csms (PostgreSQL: asyncpg)
    "plot": ["matplotlib>=3.7,<4"],
}
EXTRAS["all"] = sorted({dep for deps in EXTRAS.values() for dep in deps})
EXTRAS["test"] = EXTRAS["all"] + [
    "pytest>=7.4,<10",
    "hypothesis>=6.80,<7",
    "jsonschema>=4.18,<5",
    "rfc3339-validator>=0.1.4",  # jsonschema checks format date-time only with it (ocpp model oracle)
    "ocpp>=1.0,<3",
    "py4j>=0.10.9,<0.11",
    "ruff>=0.5",
    "mypy>=1.8",
    "grpcio-tools>=1.85,<2",  # bsp: protoc, for python -m evcharge.bsp.codegen (--check) and the reference-proto tests
    "mypy-protobuf>=5.1,<6",  # bsp: the typed stubs (yeti_pb2.pyi) the codegen writes
    "types-protobuf",
    "types-pyserial",
    "Cython>=3.0,<4",
    "pyslac>=0.8.3,<0.9",  # slac interop peer (its environs needs marshmallow 3)
    "marshmallow>=3.13,<4",
]
EXTRAS["docs"] = ["sphinx>=7,<10"]

setup(
    name="evcharge",
    version="0.1.0",
    description="Protocol stacks inside an EV charger: IEC 61851, SLAC, EXI, ISO 15118, OCPP, board drivers",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={
        "evcharge": ["py.typed", "**/*.pyi", "**/*.xsd", "**/*.json", "**/*.proto", "**/*.pxd", "**/PROVENANCE.md"]
    },
    include_package_data=True,
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
    install_requires=[],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["evcharge = evcharge.cli:_entry"]},
    zip_safe=False,
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Cython",
        "Operating System :: POSIX :: Linux",
        "Typing :: Typed",
    ],
)
