"""Charge-point functions on top of the OCPP message layer.

Each module is a pure, sans-I/O building block of a charging station:

* :mod:`~evcharge.ocpp.functions.smart_charging` -- charging profiles, composite schedule, limit to apply now;
* :mod:`~evcharge.ocpp.functions.device_model` -- the 2.0.1 device model and the 1.6 configuration keys;
* :mod:`~evcharge.ocpp.functions.authorization` -- authorization cache, local list, offline policy;
* :mod:`~evcharge.ocpp.functions.offline_queue` -- the persistent, ordered queue of transaction messages;
* :mod:`~evcharge.ocpp.functions.transactions` -- charger events to transaction messages and meter values;
* :mod:`~evcharge.ocpp.functions.config` -- their configurations read off the device model.

The asyncio side lives in ``evcharge.ocpp.functions.transport``: the queue sender and
:class:`~evcharge.ocpp.functions.transport.station.Station`, a charge point with all of the above wired in.
"""
