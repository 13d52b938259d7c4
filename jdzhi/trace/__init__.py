"""Signed product records, labels, verification and scanning."""
