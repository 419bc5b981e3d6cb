"""The heads-up display shown beside the trainee's shell (installed as replaybook.hud)."""
