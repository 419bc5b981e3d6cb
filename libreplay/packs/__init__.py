"""Scenario packs: the catalogue of installed packs, name resolution, and trust tied to a commit."""
