"""IEC 61851-1 / SAE J1772 control pilot: CP states, duty cycle and current, charger and vehicle machines."""
