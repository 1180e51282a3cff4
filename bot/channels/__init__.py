"""One adapter per channel: each translates between its platform and the desk, and nothing more."""
