"""A differential fuzzer: random programs of ``os`` calls run on Linux and on the emulated
backend over each provider, their outcomes and final trees compared (see :mod:`.programs`,
:mod:`.execution`, :mod:`.native`, :mod:`.configurations`, :mod:`.shrinking`)."""
