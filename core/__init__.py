"""The baoxiu domain: tickets, the directory, dialogue and rules. Standard library only."""
