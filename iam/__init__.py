"""Accounts, users and access keys (IAM): who owns resources, who may sign in, and which
key signed an API request (SigV4, and the authenticated shell every AWS API view runs in)."""
