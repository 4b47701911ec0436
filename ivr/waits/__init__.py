"""Wait-time estimates."""
