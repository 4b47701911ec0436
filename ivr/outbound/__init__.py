"""What the hotline sends out (callbacks, messages): which numbers it may reach, and how often."""
