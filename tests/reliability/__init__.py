"""Reliability and security: bad inputs, faults, retries, concurrency, read-only access (issue 8)."""
