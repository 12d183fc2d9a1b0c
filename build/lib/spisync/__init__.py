"""spisync: shared runtime of every role (configuration, logging, broker) and the CLI."""
