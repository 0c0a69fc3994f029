"""Internal helpers shared by every part of deepfuse (errors, optional imports, seeding, files)."""
