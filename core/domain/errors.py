"""Domain errors carry a message fit to show a person as it is."""


class DomainError(Exception):
    """A rule of the domain refused what was asked."""


class IllegalTransition(DomainError):
    """A ticket cannot take that step from its current status."""


class NotFound(DomainError):
    """The ticket, person or place asked for does not exist."""
