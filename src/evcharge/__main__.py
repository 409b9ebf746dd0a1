from evcharge.cli import _entry

_entry()
