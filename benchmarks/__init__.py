"""Where a sweep's time goes, measured side by side: python -m benchmarks [--quick]."""
