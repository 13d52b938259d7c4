"""QR traceability labels: the page layout (``layout``), QR symbols (``qr``), the CJK font
(``fonts``), one writer per format (``pdf``, ``png``, ``svg``) and the batch driver (``sheets``)."""

__all__: list[str] = []
