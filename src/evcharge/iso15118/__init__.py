"""ISO 15118: V2GTP, SDP, EXI message sets (SupportedAppProtocol, DIN 70121, ISO 15118-2/-20), security."""
