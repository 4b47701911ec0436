"""Benchmarks and the traffic generator, run by hand (`make bench`, `make faults`, `make traffic`)."""
