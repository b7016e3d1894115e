"""A server with nothing to provision never sets up an executor for it (a pool's backend
compiles seccomp, prepares cgroups and the egress fence: dozens of test servers and
replicas that never invoke should not pay for that)."""

from __future__ import annotations

import asyncio

import pytest

from invocations import provisioning, runner

pytestmark = pytest.mark.django_db(transaction=True)


def test_nothing_to_provision_makes_no_pool() -> None:
    async def scenario() -> None:
        provisioner = provisioning.Provisioner()
        try:
            await provisioner.check()
            await provisioner.check()
            assert runner.existing_pool() is None
        finally:
            await provisioner.stop()

    asyncio.run(scenario())
