"""Image references and the registry: parsing, the Registry HTTP API v2 client, the digest cache and lock, and pinning decisions."""
