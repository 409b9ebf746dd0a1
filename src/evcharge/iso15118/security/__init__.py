"""ISO 15118 security: TLS contexts, the test PKI, certificate chain checks, signatures over EXI
fragments, and the contract key transport of CertificateInstallation/Update.

Needs the ``cryptography`` package (``pip install "evcharge[iso15118]"``).

* :mod:`~evcharge.iso15118.security.pki`: writes the whole -2 and -20 test PKI (``evcharge v2g pki``)
* :mod:`~evcharge.iso15118.security.chain`: chain validation with the standard's checks
* :mod:`~evcharge.iso15118.security.tls`: SSL contexts for the SECC and the EVCC from a PKI folder
* :mod:`~evcharge.iso15118.security.signature`: the header Signature (SignedInfo over EXI fragments)
* :mod:`~evcharge.iso15118.security.contract_key`: ECDH + KDF + AES for the contract private key
"""

from evcharge.errors import require

require("cryptography", "iso15118", feature="ISO 15118 security")
