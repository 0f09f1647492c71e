"""Planners that decide a whole restructuring from the build context: split-build-stage (``split``) and narrow-copy (``copy``)."""
