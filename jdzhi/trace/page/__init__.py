"""The phone verification page a label's URL opens: its static files (``static/``), exporting them
with a signed bundle for hosting (``export``) and serving an export on 127.0.0.1 (``serve``)."""

__all__: list[str] = []
