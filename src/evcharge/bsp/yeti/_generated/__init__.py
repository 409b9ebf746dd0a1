"""Generated code: do not edit by hand (see evcharge.bsp.codegen)."""
