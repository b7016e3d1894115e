"""A function's advanced logging controls (``LoggingConfig``): how a request changes them,
and what they are once defaults are applied.

A version stores only what was asked for; the defaults (Text, the ``/aws/lambda/<name>``
group, INFO levels once the format is JSON) are applied when read, so a function renamed
or created before these controls existed reads the same as AWS reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awsapi.errors import InvalidParameterValue

TEXT = "Text"
JSON = "JSON"
DEFAULT_LEVEL = "INFO"
_LEVELS = ("ApplicationLogLevel", "SystemLogLevel")
LEVEL_WITH_TEXT = (
    'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your '
    'request or change the LogFormat to "JSON" and try again.'
)


def merged(current: dict[str, Any], requested: dict[str, Any] | None) -> dict[str, Any]:
    """The stored config after a CreateFunction / UpdateFunctionConfiguration member.

    Members left out keep their values; choosing JSON sets both levels to INFO unless the
    request names them; leaving JSON drops the levels. Levels with the Text format are
    refused with AWS's message.
    """
    asked = {key: value for key, value in (requested or {}).items() if value is not None}
    if not asked:
        return dict(current)
    if asked.get("LogFormat") == JSON:
        asked = {"ApplicationLogLevel": DEFAULT_LEVEL, "SystemLogLevel": DEFAULT_LEVEL} | asked
    result = dict(current) | asked
    if result.get("LogFormat", TEXT) == TEXT:
        if any(level in asked for level in _LEVELS):
            raise InvalidParameterValue(LEVEL_WITH_TEXT)
        for level in _LEVELS:
            result.pop(level, None)
    return result


@dataclass(frozen=True)
class Effective:
    """The logging controls in force for one version."""

    log_format: str
    log_group: str
    application_level: str | None  # None with the Text format
    system_level: str | None

    @property
    def json(self) -> bool:
        return self.log_format == JSON

    def response(self) -> dict[str, str]:
        """The ``LoggingConfig`` member of ``FunctionConfiguration``."""
        body = {"LogFormat": self.log_format}
        if self.application_level is not None:
            body["ApplicationLogLevel"] = self.application_level
        if self.system_level is not None:
            body["SystemLogLevel"] = self.system_level
        body["LogGroup"] = self.log_group
        return body


def effective(config: dict[str, Any] | None, function_name: str) -> Effective:
    config = config or {}
    log_format = str(config.get("LogFormat") or TEXT)
    json_format = log_format == JSON
    return Effective(
        log_format=log_format,
        log_group=str(config.get("LogGroup") or f"/aws/lambda/{function_name}"),
        application_level=(
            str(config.get("ApplicationLogLevel") or DEFAULT_LEVEL) if json_format else None
        ),
        system_level=str(config.get("SystemLogLevel") or DEFAULT_LEVEL) if json_format else None,
    )
