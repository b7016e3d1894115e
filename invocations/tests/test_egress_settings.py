"""The egress switches and the fence's rules, as the operator's settings make them."""

from __future__ import annotations

import pytest

from invocations.executor import egress, identity


def test_egress_is_on_unless_the_operator_or_the_vpc_config_says_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FUNCTORY_FUNCTION_EGRESS", raising=False)
    assert egress.wanted({})
    assert egress.wanted({"SubnetIds": ["subnet-0abc123"], "SecurityGroupIds": ["sg-1"]})
    assert not egress.wanted({"SubnetIds": ["subnet-0abc123", egress.NO_EGRESS_SUBNET]})
    monkeypatch.setenv("FUNCTORY_FUNCTION_EGRESS", "off")
    assert not egress.wanted({})


def test_the_sdk_endpoint_is_the_relay_only_when_the_platform_address_is_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FUNCTORY_FUNCTION_API_ADDRESS", raising=False)
    assert egress.endpoint_variables() == {}
    monkeypatch.setenv("FUNCTORY_FUNCTION_API_ADDRESS", "not-an-address")
    assert egress.endpoint_variables() == {}
    monkeypatch.setenv("FUNCTORY_FUNCTION_API_ADDRESS", "[::1]:8000")
    variables = egress.endpoint_variables()
    assert variables["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9002"
    assert variables["AWS_ENDPOINT_URL_LAMBDA"] == "http://127.0.0.1:9002"
    assert egress.platform_address() == ("::1", 8000)


def test_the_fence_takes_the_operators_lists_and_skips_malformed_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FUNCTORY_EGRESS_ALLOW", "10.0.0.5:3128, [fd00::7]:443, nonsense, 1.2.3.4")
    monkeypatch.setenv("FUNCTORY_EGRESS_DENY", "10.20.0.0/16,bad/99")
    rules = egress._ruleset()
    assert "add element inet functory_egress allow4 { 10.0.0.5/32 . 3128 }" in rules
    assert "add element inet functory_egress allow6 { fd00::7/128 . 443 }" in rules
    assert "add element inet functory_egress deny4 { 10.20.0.0/16 }" in rules
    assert "add element inet functory_egress deny4 { 169.254.0.0/16 }" in rules
    assert "nonsense" not in rules and "bad" not in rules and "1.2.3.4" not in rules
    # Only the sandbox uids' sockets meet the fence; the host's own traffic passes.
    last = identity.UID_BASE + identity.UID_COUNT - 1
    assert f"meta skuid {identity.UID_BASE}-{last} jump sandbox" in rules


def test_private_networks_are_denied_unless_the_operator_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FUNCTORY_EGRESS_DENY", raising=False)
    rules = egress._ruleset()
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"):
        assert f"add element inet functory_egress deny4 {{ {network} }}" in rules
    assert "add element inet functory_egress deny6 { fc00::/7 }" in rules
    monkeypatch.setenv("FUNCTORY_EGRESS_DENY", "")
    assert "10.0.0.0/8" not in egress._ruleset()
