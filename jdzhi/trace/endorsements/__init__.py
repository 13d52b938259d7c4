"""The testing center and its batch endorsements (:mod:`jdzhi.trace.endorsements.lab`)."""

__all__: list[str] = []  # the API is in the submodules
