"""The test PKI's default eMAID is one ISO 15118-2 can carry, and the engines never cut an eMAID short.

ISO 15118-2 eMAIDType: a string of 14-15 characters (iso15118-2/V2G_CI_MsgDataTypes.xsd); the eMAID is
compared without its separators (ISO 15118-1 form country-provider-instance-check, e.g. NL-TNM-000122045-U).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from evcharge.errors import LocalProtocolError
from evcharge.iso15118 import iso2

pytest.importorskip("cryptography")

#: ISO 15118-1 eMAID without separators: 2-letter country, 3-character provider, 9-character instance, check
NORMALISED = re.compile(r"[A-Z]{2}[0-9A-Z]{3}[0-9A-Z]{9}[0-9A-Z]")


def _cn(pem: Path) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificates(pem.read_bytes())[0]
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_default_emaid_fits_iso2(tmp_path: Path) -> None:
    from evcharge.iso15118.engines.pnc import Contract, LocalTestProvider
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    write_pki(tmp_path, PkiOptions(trees=("iso2",)))
    contract = Contract.from_pki(tmp_path)
    assert NORMALISED.fullmatch(contract.emaid) and contract.emaid == _cn(
        tmp_path / "iso2" / "contract_chain.pem"
    ).replace("-", "")
    assert LocalTestProvider(tmp_path).emaid == contract.emaid
    # it travels in a PaymentDetailsReq whole: the codec checks eMAIDType's length
    req = iso2.PaymentDetailsReq(
        e_maid=contract.emaid, contract_signature_cert_chain=iso2.CertificateChain(certificate=contract.chain[0])
    )
    msg = iso2.V2G_Message(header=iso2.MessageHeader(session_id=b"\x01" * 8), body=iso2.Body(payment_details_req=req))
    assert iso2.decode(iso2.encode(msg)).body.payment_details_req.e_maid == contract.emaid


def test_a_longer_emaid_does_not_encode() -> None:
    """Why the default had to change: 16 characters are outside eMAIDType."""
    req = iso2.PaymentDetailsReq(
        e_maid="DEABCC1234567890", contract_signature_cert_chain=iso2.CertificateChain(certificate=b"\x30\x00")
    )
    msg = iso2.V2G_Message(header=iso2.MessageHeader(session_id=b"\x01" * 8), body=iso2.Body(payment_details_req=req))
    with pytest.raises(iso2.ExiEncodeError, match="more than the maximum 15"):
        iso2.encode(msg)


def test_a_contract_whose_cn_is_too_long_is_refused_not_cut(tmp_path: Path) -> None:
    from evcharge.iso15118.engines.pnc import Contract, LocalTestProvider
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    write_pki(tmp_path, PkiOptions(emaid="DE-ABC-C123456789-0", trees=("iso2",)))  # 16 without separators
    with pytest.raises(LocalProtocolError, match="DE-ABC-C123456789-0"):
        Contract.from_pki(tmp_path)
    with pytest.raises(LocalProtocolError, match="eMAID"):
        LocalTestProvider(tmp_path)


def test_cli_default_is_the_library_default(tmp_path: Path) -> None:
    from evcharge.iso15118.security.pki import PkiOptions

    out = tmp_path / "pki"
    done = subprocess.run(
        [sys.executable, "-m", "evcharge", "v2g", "pki", "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert _cn(out / "iso2" / "contract_chain.pem") == PkiOptions().emaid
    assert _cn(out / "iso20" / "contract_chain.pem") == PkiOptions().emaid
