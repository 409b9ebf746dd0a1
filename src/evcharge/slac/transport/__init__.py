"""Transports for the SLAC machines: raw Ethernet through scapy, a socket pair for tests, an asyncio driver.

Transports own the socket, the event loop and the clock, and make no protocol decision.
"""
