"""The knowledge base: data files under ``hardener/data`` and the typed lookups on them.

``facts`` loads ``images.toml`` into one typed record per image family (checked at load:
an unknown key or a missing ``sources`` is an error); ``images`` looks image references up
in it, ``tiers`` gives Compose service tiers by image family and the default limits per tier.
"""
