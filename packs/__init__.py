"""The official scenario pack, shipped with replaybook (installed as replaybook.packs)."""
