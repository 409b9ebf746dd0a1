"""Generator of the OCPP typed models and validators (``python -m evcharge.ocpp.codegen [--check]``)."""

from evcharge.ocpp.codegen.generator import VERSIONS, VersionSpec, generate

__all__ = ["VERSIONS", "VersionSpec", "generate"]
