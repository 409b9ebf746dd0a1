"""Thin I/O adapters around the Yeti protocol core and simulator (serial port, pseudo-terminal)."""
