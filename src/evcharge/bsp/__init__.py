"""Board support: the BoardSupport interface, PIONIX Yeti and YAK drivers, simulated boards."""
