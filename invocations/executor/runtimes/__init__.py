"""Runtime bootstraps mounted read-only at ``/var/runtime`` in every environment."""
