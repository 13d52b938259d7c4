"""Design-copy screening of submitted images against registered works."""

__all__: list[str] = []  # the API is in the submodules
