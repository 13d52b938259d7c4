"""``jdzhi demo``: the whole story on SAMPLE data (``story`` runs the steps, ``context`` is what
they share), with procedurally drawn porcelain and simulated phone photos (``photosim``)."""

__all__: list[str] = []
