"""LoggingConfig through boto3: defaults, JSON levels, merging on update, AWS's refusals."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import create_function
from functions import logging_config

pytestmark = [pytest.mark.live]


def _logging(lam, name):
    return lam.get_function_configuration(FunctionName=name)["LoggingConfig"]


def test_a_new_function_logs_text_to_its_own_group(lam):
    created = create_function(lam, "plain")
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}
    assert _logging(lam, "plain") == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}


def test_json_format_defaults_both_levels_to_info(lam):
    created = create_function(lam, "js", LoggingConfig={"LogFormat": "JSON"})
    expected = {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": "/aws/lambda/js",
    }
    assert created["LoggingConfig"] == expected
    assert _logging(lam, "js") == expected


def test_levels_and_group_are_kept_as_given(lam):
    create_function(
        lam,
        "lv",
        LoggingConfig={
            "LogFormat": "JSON",
            "ApplicationLogLevel": "DEBUG",
            "SystemLogLevel": "WARN",
            "LogGroup": "shared/app-logs",
        },
    )
    assert _logging(lam, "lv") == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "WARN",
        "LogGroup": "shared/app-logs",
    }


@pytest.mark.parametrize("level", [{"ApplicationLogLevel": "INFO"}, {"SystemLogLevel": "WARN"}])
def test_a_level_with_the_text_format_is_refused_with_awss_message(lam, level):
    with pytest.raises(ClientError) as error:
        create_function(lam, "bad", LoggingConfig={"LogFormat": "Text", **level})
    response = error.value.response
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == logging_config.LEVEL_WITH_TEXT
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert logging_config.LEVEL_WITH_TEXT == (
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from '
        'your request or change the LogFormat to "JSON" and try again.'
    )
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="bad")


def test_a_level_alone_on_a_text_function_is_refused(lam):
    create_function(lam, "txt")
    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(
            FunctionName="txt", LoggingConfig={"ApplicationLogLevel": "DEBUG"}
        )
    assert error.value.response["Error"]["Message"] == logging_config.LEVEL_WITH_TEXT
    assert _logging(lam, "txt") == {"LogFormat": "Text", "LogGroup": "/aws/lambda/txt"}


def test_an_update_changes_only_the_members_it_names(lam):
    create_function(lam, "upd", LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "DEBUG"})
    lam.update_function_configuration(
        FunctionName="upd", LoggingConfig={"ApplicationLogLevel": "ERROR"}
    )
    assert _logging(lam, "upd") == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "ERROR",
        "SystemLogLevel": "DEBUG",
        "LogGroup": "/aws/lambda/upd",
    }
    lam.update_function_configuration(FunctionName="upd", LoggingConfig={"LogGroup": "mine"})
    assert _logging(lam, "upd")["ApplicationLogLevel"] == "ERROR"
    assert _logging(lam, "upd")["LogGroup"] == "mine"
    # Back to Text: the levels go with the format.
    lam.update_function_configuration(FunctionName="upd", LoggingConfig={"LogFormat": "Text"})
    assert _logging(lam, "upd") == {"LogFormat": "Text", "LogGroup": "mine"}


def test_a_published_version_keeps_its_logging_config(lam):
    create_function(lam, "pub", LoggingConfig={"LogFormat": "JSON"})
    version = lam.publish_version(FunctionName="pub")["Version"]
    lam.update_function_configuration(FunctionName="pub", LoggingConfig={"LogFormat": "Text"})
    frozen = lam.get_function_configuration(FunctionName="pub", Qualifier=version)
    assert frozen["LoggingConfig"]["LogFormat"] == "JSON"
    assert _logging(lam, "pub")["LogFormat"] == "Text"


@pytest.mark.parametrize(
    ("config", "member", "constraint"),
    [
        ({"LogFormat": "XML"}, "loggingConfig.logFormat", "enum value set: [JSON, Text]"),
        (
            {"LogFormat": "JSON", "ApplicationLogLevel": "VERBOSE"},
            "loggingConfig.applicationLogLevel",
            "enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]",
        ),
        (
            {"LogFormat": "JSON", "SystemLogLevel": "ERROR"},
            "loggingConfig.systemLogLevel",
            "enum value set: [DEBUG, INFO, WARN]",
        ),
        ({"LogGroup": "bad group!"}, "loggingConfig.logGroup", "regular expression pattern"),
        ({"LogGroup": "g" * 513}, "loggingConfig.logGroup", "length less than or equal to 512"),
    ],
)
def test_malformed_members_fail_the_models_validation(raw_lam, config, member, constraint):
    with pytest.raises(ClientError) as error:
        create_function(raw_lam, "badmodel", LoggingConfig=config)
    response = error.value.response
    assert response["Error"]["Code"] == "ValidationException"
    assert member in response["Error"]["Message"]
    assert constraint in response["Error"]["Message"]
