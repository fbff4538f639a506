"""Tests of the compat package: levels, registry, recording, call sites, report, docs."""
