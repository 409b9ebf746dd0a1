"""OCPP 1.6J, 2.0.1 and 2.1: typed messages, validation, RPC framing, charge-point and CSMS roles.

Sub-packages and modules (nothing is imported here, so ``import evcharge.ocpp`` stays cheap and needs
no optional dependency):

* ``evcharge.ocpp.v16``, ``evcharge.ocpp.v201``, ``evcharge.ocpp.v21`` -- generated models and validators;
* :mod:`evcharge.ocpp.rpc` -- the sans-I/O OCPP-J RPC core;
* :mod:`evcharge.ocpp.routing` -- ``@on`` handlers routed per class;
* :mod:`evcharge.ocpp.charge_point`, :mod:`evcharge.ocpp.csms` -- the two roles;
* :mod:`evcharge.ocpp.transport` -- asyncio session, ``websockets`` client and server;
* :mod:`evcharge.ocpp.errors` -- the exceptions.
"""
