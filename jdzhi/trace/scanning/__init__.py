"""Field scanning: finding and decoding the QR codes in photos (``decode``), and the scan log with
its clone rules (``log``)."""

__all__: list[str] = []
