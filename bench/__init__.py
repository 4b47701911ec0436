"""Benchmarks run by hand (`make bench`), not part of the product or the test suite's timing."""
