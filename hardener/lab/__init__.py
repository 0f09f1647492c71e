"""Proof by building: the container engine on this machine and ``hardener verify``."""
