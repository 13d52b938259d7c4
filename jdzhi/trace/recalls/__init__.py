"""Item recalls: single serials or whole batches that the registry withdraws (a cloned serial, a
batch that failed its lead/cadmium test, a stolen roll of printed labels), stored and audited
(:mod:`.store`), carried in the trust bundle in a compact form (:mod:`.compact`)."""

__all__: list[str] = []
