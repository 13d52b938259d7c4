"""Verdicts on labels and signed records against a trust source (``verifier``)."""

__all__: list[str] = []  # the API is in the submodules
