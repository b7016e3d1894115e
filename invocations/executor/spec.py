"""What the executor is asked to run, and what it answers."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field

from invocations.executor.streaming import ResponseStream
from invocations.executor.xray import TraceContext

# AWS_LAMBDA_INITIALIZATION_TYPE: started for an invocation, or ahead of any (provisioned
# concurrency).
ON_DEMAND = "on-demand"
PROVISIONED = "provisioned-concurrency"


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything that defines an execution environment for one function version.

    Two invocations may share a warm environment only if their specs are equal; any change
    of code or configuration makes a new ``key`` and so retires the old environments.
    """

    function_arn: str  # unqualified
    function_name: str
    version: str
    runtime: str
    handler: str
    memory_mb: int
    timeout_s: int
    code_dir: str  # extracted package, mounted read-only at /var/task
    layers_dir: str | None  # merged layers, mounted read-only at /opt
    environment: tuple[tuple[str, str], ...] = ()
    ephemeral_mb: int = 512
    log_group: str = ""
    region: str = "us-east-1"
    account_id: str = ""
    revision: str = ""
    egress: bool = True  # outbound networking (egress.py); off by VpcConfig or the operator
    role_arn: str = ""  # the execution role: its credentials are given at start, not kept here
    # A container-image function (code_dir and layers_dir unused): the image by digest, the
    # argv its entrypoint and command make (ImageConfig applied), its working directory and
    # the variables the image sets.
    image_id: str = ""
    image_command: tuple[str, ...] = ()
    image_workdir: str = ""
    image_env: tuple[tuple[str, str], ...] = ()
    image_volumes: tuple[str, ...] = ()  # the image's VOLUMEs (kept read-only and empty)
    # LoggingConfig: "Text" or "JSON"; with JSON, the application and system levels.
    log_format: str = "Text"
    application_log_level: str = ""
    system_log_level: str = ""
    # TracingConfig: "Active" (the platform records sampled invocations) or "PassThrough".
    tracing_mode: str = "PassThrough"
    # SnapStart (a published version's): environments forked from an initialised template.
    snap_start: bool = False

    @functools.cached_property
    def key(self) -> str:
        # Cached (the pool asks for it several times per invocation); from the fields only.
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        raw = json.dumps(values, sort_keys=True, default=list)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def json_logs(self) -> bool:
        return self.log_format == "JSON"

    @property
    def custom_log_group(self) -> bool:
        """Logs go to a group other than ``/aws/lambda/<name>`` (several functions may
        share it, so its streams carry the function's name)."""
        return bool(self.log_group) and self.log_group != f"/aws/lambda/{self.function_name}"

    @property
    def function_key(self) -> str:
        """Identifies the function version regardless of configuration."""
        return f"{self.function_arn}:{self.version}"


@dataclass(frozen=True)
class Credentials:
    """An execution role's temporary credentials, as an environment receives them."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expires_at: float  # seconds since the epoch

    def variables(self) -> dict[str, str]:
        """The runtime's variables the SDKs read (the default credential chain)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


@dataclass(frozen=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_arn: str
    client_context: str | None = None  # base64 JSON, passed through as AWS does
    cognito_identity: str | None = None
    trace_id: str | None = None
    # The invocation's X-Ray trace (then ``trace_id`` is unused): see ``xray.decide``.
    trace: TraceContext | None = None
    tail_logs: bool = False
    # Set for InvokeWithResponseStream: a streamed response is passed on here as it comes.
    stream: ResponseStream | None = None


@dataclass
class InvokeResult:
    """The outcome of one invocation.

    ``function_error`` is None on success, else ``"Unhandled"`` (AWS's header value); the
    ``payload`` then holds the error document ``{errorMessage, errorType, ...}``.
    """

    request_id: str
    payload: bytes
    function_error: str | None = None
    error_type: str | None = None
    duration_ms: float = 0.0
    billed_ms: int = 0
    max_memory_mb: int = 0
    init_duration_ms: float | None = None
    log_lines: list[str] = field(default_factory=list)
    log_stream: str = ""
    cold: bool = False
    # The runtime sent its response in streaming mode (to ``InvokeRequest.stream``, if any).
    streamed: bool = False
    # The platform's AWS::Lambda::Function segment (JSON) of a recorded trace.
    segments: list[str] = field(default_factory=list)
