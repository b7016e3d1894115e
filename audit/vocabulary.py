"""The words of audit events: which calls are data events, which errors are denials,
where each service's events come from."""

from __future__ import annotations

# (SigV4 service, operation) of data events: high-volume calls on a resource's data.
DATA_EVENTS = frozenset(
    {
        ("lambda", "Invoke"),
        ("lambda", "InvokeAsync"),
        ("lambda", "InvokeWithResponseStream"),
        ("logs", "PutLogEvents"),
        ("logs", "GetLogEvents"),
        ("logs", "FilterLogEvents"),
        # CloudWatch's metric reads and writes (CloudTrail's AWS::CloudWatch::Metric data
        # events): a function may publish on every invocation, a dashboard reads each minute.
        ("monitoring", "PutMetricData"),
        ("monitoring", "GetMetricData"),
        ("monitoring", "GetMetricStatistics"),
        ("monitoring", "ListMetrics"),
        # X-Ray's trace writes and reads: an instrumented application sends on every request.
        ("xray", "PutTraceSegments"),
        ("xray", "GetTraceSummaries"),
        ("xray", "BatchGetTraces"),
    }
)
# Errors that refuse the caller (who they are, or what they may do), not their input.
DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "NotAuthenticated",
    }
)
READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Filter", "Head", "Simulate")
# Where each service's events come from, as CloudTrail names it.
EVENT_SOURCES = {
    "lambda": "lambda.amazonaws.com",
    "logs": "logs.amazonaws.com",
    "monitoring": "monitoring.amazonaws.com",
    "events": "events.amazonaws.com",
    "iam": "iam.amazonaws.com",
    "sts": "sts.amazonaws.com",
    "cloudtrail": "cloudtrail.amazonaws.com",
    "xray": "xray.amazonaws.com",
}
