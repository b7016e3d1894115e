"""The control plane's records: functions, versions, aliases, policies, layers, code blobs."""

from __future__ import annotations

import uuid

from django.db import models

from iam.models import Account


def new_revision_id() -> str:
    return str(uuid.uuid4())


class CodeBlob(models.Model):
    """A stored zip, addressed by the hex SHA-256 of its bytes; shared by all that use it."""

    sha256_hex = models.CharField(primary_key=True, max_length=64)
    size = models.BigIntegerField()
    unzipped_size = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256_hex


class Function(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="functions")
    name = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    tags = models.JSONField(default=dict)
    reserved_concurrency = models.PositiveIntegerField(null=True, blank=True)
    # Published version numbers are never reused, even after a version is deleted.
    last_version_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="function_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.name}"


class FunctionVersion(models.Model):
    """``$LATEST`` (number 0, mutable) or a published, immutable version (number ≥ 1)."""

    LATEST = "$LATEST"

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.CharField(max_length=256, blank=True)
    runtime = models.CharField(max_length=32)
    handler = models.CharField(max_length=128)
    role = models.CharField(max_length=2048)
    timeout = models.PositiveIntegerField(default=3)
    memory_size = models.PositiveIntegerField(default=128)
    ephemeral_storage = models.PositiveIntegerField(default=512)
    environment = models.JSONField(default=dict)
    architectures = models.JSONField(default=list)
    tracing_mode = models.CharField(max_length=16, default="PassThrough")
    dead_letter_target_arn = models.CharField(max_length=2048, blank=True)
    kms_key_arn = models.CharField(max_length=2048, blank=True)
    vpc_config = models.JSONField(default=dict)
    logging_config = models.JSONField(default=dict)
    # SnapStart's ApplyOn ("PublishedVersions" or "None"); on for the published versions.
    snap_start = models.CharField(max_length=24, default="None")
    # None for a container-image function: its code is the image.
    code = models.ForeignKey(
        CodeBlob, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    code_sha256 = models.CharField(max_length=64)
    code_size = models.BigIntegerField()
    package_type = models.CharField(max_length=8, default="Zip")
    # Image functions: the ImageUri as given, the image it resolved to when set (a re-tag
    # later changes nothing), the ImageConfig overrides and the image's own settings
    # (Entrypoint, Cmd, WorkingDir, Env) read from the engine at that moment.
    image_uri = models.CharField(max_length=1024, blank=True)
    resolved_image_uri = models.CharField(max_length=1200, blank=True)
    image_id = models.CharField(max_length=80, blank=True)
    image_config = models.JSONField(default=dict)
    image_settings = models.JSONField(default=dict)
    # A digest of everything a published version freezes; an unchanged $LATEST publishes
    # as the existing version instead of a new one.
    config_digest = models.CharField(max_length=64)
    revision_id = models.CharField(max_length=36, default=new_revision_id)
    last_modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "number"], name="version_unique_number")
        ]
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.function}:{self.version}"

    @property
    def version(self) -> str:
        return self.LATEST if self.number == 0 else str(self.number)

    @property
    def snap_start_on(self) -> bool:
        """Whether its environments start from a SnapStart snapshot (published only)."""
        return self.number > 0 and self.snap_start == "PublishedVersions"


class FunctionLayer(models.Model):
    """A layer version attached to a function version, in order; keeps its blob alive."""

    function_version = models.ForeignKey(
        FunctionVersion, on_delete=models.CASCADE, related_name="layers"
    )
    position = models.PositiveSmallIntegerField()
    arn = models.CharField(max_length=2048)
    code = models.ForeignKey(CodeBlob, on_delete=models.PROTECT, related_name="+")
    code_size = models.BigIntegerField()

    class Meta:
        ordering = ["position"]


class Alias(models.Model):
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=128)
    function_version = models.CharField(max_length=16)
    description = models.CharField(max_length=256, blank=True)
    # {"2": 0.2}: the share of traffic sent to a second version.
    routing_weights = models.JSONField(default=dict)
    revision_id = models.CharField(max_length=36, default=new_revision_id)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "name"], name="alias_unique_name")
        ]
        ordering = ["name"]


class PolicyStatement(models.Model):
    """One statement of a function's resource-based policy, per qualifier ('' = none)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="statements")
    qualifier = models.CharField(max_length=128, blank=True)
    sid = models.CharField(max_length=100)
    statement = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["function", "qualifier", "sid"], name="statement_unique_sid"
            )
        ]
        ordering = ["created", "id"]


class Layer(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=140)
    last_version_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="layer_unique_name")
        ]


class LayerVersion(models.Model):
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.CharField(max_length=256, blank=True)
    created = models.DateTimeField()
    compatible_runtimes = models.JSONField(default=list)
    compatible_architectures = models.JSONField(default=list)
    license_info = models.CharField(max_length=512, blank=True)
    code = models.ForeignKey(CodeBlob, on_delete=models.PROTECT, related_name="+")
    code_sha256 = models.CharField(max_length=44)
    code_size = models.BigIntegerField()
    revision_id = models.CharField(max_length=36, default=new_revision_id)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["layer", "number"], name="layer_version_unique")
        ]
        ordering = ["-number"]


class LayerVersionStatement(models.Model):
    layer_version = models.ForeignKey(
        LayerVersion, on_delete=models.CASCADE, related_name="statements"
    )
    sid = models.CharField(max_length=100)
    statement = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["layer_version", "sid"], name="layer_statement_sid")
        ]
        ordering = ["created", "id"]


class TestEvent(models.Model):
    """A saved console test event: private to its owner, or shared with the whole account."""

    __test__ = False  # not a pytest test class, whatever its name

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="test_events")
    owner = models.ForeignKey("iam.User", on_delete=models.CASCADE, related_name="test_events")
    name = models.CharField(max_length=25)
    payload = models.JSONField()
    shared = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["function", "owner", "name"], name="test_event_unique_name"
            )
        ]
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.function}:{self.name}"


class EventInvokeConfig(models.Model):
    """Asynchronous-invocation settings of $LATEST, a published version or an alias.

    Unset retry/age settings are ``None`` (the service's defaults apply: 2 retries, 6 h);
    an unset destination is ''.
    """

    # The service's defaults, for a qualifier without a configuration or a setting left unset.
    DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
    DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 6 * 60 * 60

    function = models.ForeignKey(
        Function, on_delete=models.CASCADE, related_name="event_invoke_configs"
    )
    # '$LATEST', a published version number or an alias name.
    qualifier = models.CharField(max_length=128)
    maximum_retry_attempts = models.PositiveSmallIntegerField(null=True, blank=True)
    maximum_event_age = models.PositiveIntegerField(null=True, blank=True)
    on_success = models.CharField(max_length=350, blank=True)
    on_failure = models.CharField(max_length=350, blank=True)
    last_modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["function", "qualifier"], name="event_invoke_config_unique_qualifier"
            )
        ]
        ordering = ["qualifier"]

    def __str__(self) -> str:
        return f"{self.function}:{self.qualifier}"

    @property
    def retry_attempts(self) -> int:
        """The retries in effect: the setting, else the service's default."""
        if self.maximum_retry_attempts is None:
            return self.DEFAULT_MAXIMUM_RETRY_ATTEMPTS
        return self.maximum_retry_attempts

    @property
    def event_age(self) -> int:
        """The maximum event age in effect (seconds): the setting, else the default."""
        if self.maximum_event_age is None:
            return self.DEFAULT_MAXIMUM_EVENT_AGE_SECONDS
        return self.maximum_event_age


class FunctionUrlConfig(models.Model):
    """A function URL: an HTTP(S) endpoint of $LATEST or of an alias (at most one each).

    ``url_id`` is the 32-character id in the URL's host name (AWS's shape), or in its path
    on a server with no wildcard domain; ``cors`` is the ``Cors`` structure as the API took
    it (AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders, MaxAge, AllowCredentials).
    """

    AUTH_NONE = "NONE"
    AUTH_IAM = "AWS_IAM"
    BUFFERED = "BUFFERED"
    RESPONSE_STREAM = "RESPONSE_STREAM"

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="url_configs")
    # '$LATEST' or an alias name (a published version cannot have a URL).
    qualifier = models.CharField(max_length=128)
    url_id = models.CharField(max_length=32, unique=True)
    auth_type = models.CharField(max_length=8)
    cors = models.JSONField(default=dict)
    invoke_mode = models.CharField(max_length=16, default=BUFFERED)
    created = models.DateTimeField()
    last_modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["function", "qualifier"], name="function_url_unique_qualifier"
            )
        ]
        ordering = ["qualifier"]

    def __str__(self) -> str:
        return f"{self.function}:{self.qualifier} url"


class ProvisionedConcurrencyConfig(models.Model):
    """Environments kept initialised and ready for a published version or an alias.

    ``requested`` is what the API was asked for; ``allocated``, ``status`` and
    ``status_reason`` are what the executors report (``invocations.provisioning``).
    """

    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    FAILED = "FAILED"

    function = models.ForeignKey(
        Function, on_delete=models.CASCADE, related_name="provisioned_configs"
    )
    # A published version number or an alias name ($LATEST cannot have one).
    qualifier = models.CharField(max_length=128)
    requested = models.PositiveIntegerField()
    allocated = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, default=IN_PROGRESS)
    status_reason = models.CharField(max_length=1024, blank=True)
    last_modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["function", "qualifier"], name="provisioned_config_unique_qualifier"
            )
        ]
        ordering = ["qualifier"]

    def __str__(self) -> str:
        return f"{self.function}:{self.qualifier} provisioned {self.requested}"
