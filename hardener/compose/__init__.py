"""Compose files: the lossless document, YAML splicing, anchors, the override pair, the service graph and what a service runs and mounts."""
