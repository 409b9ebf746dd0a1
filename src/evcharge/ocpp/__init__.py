"""OCPP 1.6J, 2.0.1 and 2.1: typed messages, validation, RPC framing, charge-point and CSMS roles."""
