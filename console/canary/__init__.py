"""Canary analysis: the canaries file (model), the judge between two versions, and running it."""
