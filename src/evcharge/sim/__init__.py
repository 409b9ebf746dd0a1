"""A whole charger, car and CSMS composed from the SDK on one machine (``evcharge simulate``)."""
