"""Report formats: text (patch + reasons), json, sarif and markdown, and the hunks they share."""
