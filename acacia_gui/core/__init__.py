"""The jobs core: standard library only, no Qt, no I/O beyond what callers inject."""
