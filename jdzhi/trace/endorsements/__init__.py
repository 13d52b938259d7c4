"""The testing center and its batch endorsements (:mod:`jdzhi.trace.endorsements.lab`)."""
