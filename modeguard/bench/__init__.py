"""Benchmark suites: strategy sets x data sets x seeds, run in parallel processes."""
