"""Runtime bridge for game engines (filled by the runtime issue)."""
