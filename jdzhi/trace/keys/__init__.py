"""Keys of the trust chain: key files (``keyfile``), the authority key (``authority``), the keys
it certifies (``certified``) and ``jdzhi init`` (``home_setup``)."""

__all__: list[str] = []  # the API is in the submodules
