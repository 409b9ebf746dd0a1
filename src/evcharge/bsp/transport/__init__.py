"""I/O adapters shared by the board drivers and simulators (pseudo-terminals)."""
