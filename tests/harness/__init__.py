"""Test harness: real brokers for the tests (a vhost each, or a private node)."""
