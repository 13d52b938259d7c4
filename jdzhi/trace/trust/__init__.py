"""What verifiers trust: the status rules (``status``), the trust model (``model``), read from
the registry (``from_registry``) or an authority-signed bundle (``bundle``)."""

__all__: list[str] = []  # the API is in the submodules
