"""Benchmarks and the load generator (see loadtests/README.md)."""
