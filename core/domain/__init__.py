"""The domain: tickets and their lifecycle, the directory, places, triage, deadlines, dispatch and roles."""
