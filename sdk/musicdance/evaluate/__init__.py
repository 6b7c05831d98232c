"""Quality metrics for generated dance (beat alignment, physical plausibility, smoothness)."""
