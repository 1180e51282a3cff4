"""Channel adapters, the command line and the server: everything that talks to the outside."""
