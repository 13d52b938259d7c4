"""Verdicts on labels and signed records against a trust source (``verifier``)."""
