"""Accounts, users and access keys (IAM): who owns resources, who may sign in, and which
key signed an AWS API call (``iam.authentication``)."""
