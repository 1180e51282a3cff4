"""The runtime of `baoxiu run`: the HTTP server, the desk's worker processes and the outbox sender."""
