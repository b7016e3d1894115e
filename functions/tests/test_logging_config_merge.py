"""How a LoggingConfig member changes a version's stored config (in process)."""

from __future__ import annotations

import pytest

from awsapi.errors import InvalidParameterValue
from functions import logging_config


def test_json_sets_info_levels_unless_named():
    assert logging_config.merged({}, {"LogFormat": "JSON", "SystemLogLevel": "WARN"}) == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "WARN",
    }


def test_members_left_out_are_kept_and_text_drops_the_levels():
    current = {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO"}
    assert logging_config.merged(current, {"LogGroup": "g"}) == current | {"LogGroup": "g"}
    assert logging_config.merged(current, {"LogFormat": "Text"}) == {"LogFormat": "Text"}
    assert logging_config.merged(current, {}) == current


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        ({}, {"ApplicationLogLevel": "INFO"}),
        ({}, {"LogFormat": "Text", "SystemLogLevel": "DEBUG"}),
        ({"LogFormat": "JSON"}, {"LogFormat": "Text", "ApplicationLogLevel": "WARN"}),
    ],
)
def test_levels_with_the_text_format_are_refused(current, requested):
    with pytest.raises(InvalidParameterValue) as error:
        logging_config.merged(current, requested)
    assert error.value.message == logging_config.LEVEL_WITH_TEXT


def test_the_effective_config_fills_the_defaults():
    text = logging_config.effective({}, "fn")
    assert text.response() == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}
    json_config = logging_config.effective({"LogFormat": "JSON"}, "fn")
    assert json_config.response() == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": "/aws/lambda/fn",
    }
