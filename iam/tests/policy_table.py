"""The policy-evaluation table: requests and the answer AWS's documentation gives for each.

Read by ``test_policy_evaluation_table.py``. ``expect`` is "allow", "deny" (an explicit deny)
or "implicit" (no policy allows: denied by default). Sources: the IAM User Guide's "Policy
evaluation logic", "Cross-account policy evaluation logic", "IAM JSON policy elements"
(Action, NotAction, Resource, NotResource, Principal, NotPrincipal, Condition), "Condition
operators", "Single-valued vs. multivalued context keys" and "IAM policy elements: Variables
and tags"; the Lambda Developer Guide's resource-based policy examples; the managed policy
reference for the AWS managed policies.
"""

# The table keeps one case per line, to be read as a table.
# ruff: noqa: E501
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iam.policy import Principal

A = "111111111111"  # the resource's account
B = "222222222222"  # another account
FN = f"arn:aws:lambda:us-east-1:{A}:function:my-function"
FN_B = f"arn:aws:lambda:us-east-1:{B}:function:my-function"
ALICE = Principal(
    f"arn:aws:iam::{A}:user/alice",
    A,
    "user",
    name="alice",
    user_id="AIDAALICE",
    tags={"team": "blue", "CostCenter": "12345"},
)
CAROL = Principal(f"arn:aws:iam::{A}:user/carol", A, "user", name="carol", user_id="AIDACAROL")
ROOT_A = Principal(f"arn:aws:iam::{A}:root", A, "root")
ROOT_B = Principal(f"arn:aws:iam::{B}:root", B, "root")
BOB = Principal(f"arn:aws:iam::{B}:user/bob", B, "user", name="bob", user_id="AIDABOB")
SESSION_B = Principal(
    f"arn:aws:sts::{B}:assumed-role/deployer/ci-run", B, "assumed-role", name="ci-run"
)
SESSION_A = Principal(
    f"arn:aws:sts::{A}:assumed-role/app-role/my-function",
    A,
    "assumed-role",
    name="my-function",
    user_id="AROAAPP:my-function",
    tags={"team": "green"},
)
EVENTS = Principal("events.amazonaws.com", "", "service")
S3 = Principal("s3.amazonaws.com", "", "service")
LAMBDA_SVC = Principal("lambda.amazonaws.com", "", "service")
MISSING = object()  # a condition key absent from the request


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def allow(action: Any = "lambda:*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "lambda:*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def grant(principal: Any, action: Any = "lambda:InvokeFunction", **extra: Any) -> dict[str, Any]:
    """A resource-based policy statement on the function, as AddPermission writes them."""
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": FN, **extra}


def refuse(principal: Any, action: Any = "lambda:InvokeFunction", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": principal, "Action": action, "Resource": FN, **extra}


@dataclass
class Case:
    name: str
    expect: str
    action: str = "lambda:InvokeFunction"
    resource: str = FN
    principal: Principal = ALICE
    identity: list[dict[str, Any]] = field(default_factory=list)
    resource_policy: dict[str, Any] | None = None
    resource_account: str = A
    keys: dict[str, Any] = field(default_factory=dict)
    managed: list[str] = field(default_factory=list)  # AWS managed policy names


# fmt: off
CASES: list[Case] = [
    # --- Actions ------------------------------------------------------------------------
    Case("allow-exact-action-and-resource", "allow", identity=[doc(allow("lambda:InvokeFunction", FN))]),
    Case("no-policy-denies-by-default", "implicit"),
    Case("policy-for-another-action-denies-by-default", "implicit", identity=[doc(allow("lambda:GetFunction"))]),
    Case("action-names-are-case-insensitive", "allow", identity=[doc(allow("LAMBDA:invokefunction"))]),
    Case("request-action-case-does-not-matter", "allow", action="Lambda:INVOKEFUNCTION", identity=[doc(allow("lambda:InvokeFunction"))]),
    Case("action-prefix-wildcard", "allow", action="lambda:GetFunctionConfiguration", identity=[doc(allow("lambda:Get*"))]),
    Case("action-prefix-wildcard-other-verb", "implicit", action="lambda:ListFunctions", identity=[doc(allow("lambda:Get*"))]),
    Case("action-suffix-wildcard", "allow", identity=[doc(allow("lambda:*Function"))]),
    Case("action-middle-wildcard", "allow", action="lambda:GetFunctionUrlConfig", identity=[doc(allow("lambda:Get*Config"))]),
    Case("action-question-mark-one-character", "allow", action="lambda:GetAlias", identity=[doc(allow("lambda:?etAlias"))]),
    Case("action-question-mark-not-two-characters", "implicit", action="lambda:GetAlias", identity=[doc(allow("lambda:?Alias"))]),
    Case("action-star-alone-matches-everything", "allow", action="logs:PutLogEvents", identity=[doc(allow("*"))]),
    Case("action-service-wildcard-other-service", "implicit", action="logs:GetLogEvents", identity=[doc(allow("lambda:*"))]),
    Case("action-service-prefix-is-not-a-wildcard", "implicit", action="lambdax:InvokeFunction", identity=[doc(allow("lambda:*"))]),
    Case("action-list-any-entry-matches", "allow", identity=[doc(allow(["lambda:GetFunction", "lambda:InvokeFunction"]))]),
    Case("action-exact-name-is-not-a-prefix", "implicit", action="lambda:InvokeFunctionUrl", identity=[doc(allow("lambda:InvokeFunction"))]),
    Case("action-star-matches-invoke-function-url", "allow", action="lambda:InvokeFunctionUrl", identity=[doc(allow("lambda:InvokeFunction*"))]),
    # --- NotAction ----------------------------------------------------------------------
    Case("notaction-allow-other-action", "allow", action="lambda:GetFunction", identity=[doc({"Effect": "Allow", "NotAction": "lambda:Delete*", "Resource": "*"})]),
    Case("notaction-allow-excluded-action-denied-by-default", "implicit", action="lambda:DeleteFunction", identity=[doc({"Effect": "Allow", "NotAction": "lambda:Delete*", "Resource": "*"})]),
    Case("notaction-allow-reaches-other-services", "allow", action="logs:GetLogEvents", resource="arn:aws:logs:us-east-1:111111111111:log-group:x", identity=[doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]),
    Case("notaction-deny-denies-everything-else", "deny", action="lambda:GetFunction", identity=[doc(allow("*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"})]),
    Case("notaction-deny-leaves-excluded-action-allowed", "allow", action="iam:GetUser", resource=f"arn:aws:iam::{A}:user/alice", identity=[doc(allow("*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"})]),
    Case("notaction-list-excludes-each", "implicit", action="lambda:ListFunctions", resource="*", identity=[doc({"Effect": "Allow", "NotAction": ["lambda:List*", "lambda:Delete*"], "Resource": "*"})]),
    Case("notaction-case-insensitive", "implicit", action="lambda:DeleteFunction", identity=[doc({"Effect": "Allow", "NotAction": "LAMBDA:delete*", "Resource": "*"})]),
    # --- Resources ----------------------------------------------------------------------
    Case("resource-exact-arn", "allow", identity=[doc(allow(resource=FN))]),
    Case("resource-arns-are-case-sensitive", "implicit", identity=[doc(allow(resource=FN.replace("my-function", "My-Function")))]),
    Case("resource-wildcard-function-name", "allow", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:my-*"))]),
    Case("resource-wildcard-other-name", "implicit", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:other-*"))]),
    Case("resource-region-wildcard-segment", "allow", identity=[doc(allow(resource=f"arn:aws:lambda:*:{A}:function:my-function"))]),
    Case("resource-account-wildcard-segment", "allow", identity=[doc(allow(resource="arn:aws:lambda:us-east-1:*:function:my-function"))]),
    Case("resource-other-account", "implicit", identity=[doc(allow(resource=FN_B))]),
    Case("resource-other-region", "implicit", identity=[doc(allow(resource=FN.replace("us-east-1", "eu-west-1")))]),
    Case("resource-star-matches-qualifier", "allow", resource=FN + ":prod", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:my-function:*"))]),
    Case("resource-unqualified-arn-does-not-match-qualified", "implicit", resource=FN + ":prod", identity=[doc(allow(resource=FN))]),
    Case("resource-qualified-pattern-needs-qualifier", "implicit", identity=[doc(allow(resource=FN + ":*"))]),
    Case("resource-question-mark-version", "allow", resource=FN + ":7", identity=[doc(allow(resource=FN + ":?"))]),
    Case("resource-question-mark-needs-one-character", "implicit", resource=FN + ":17", identity=[doc(allow(resource=FN + ":?"))]),
    Case("resource-star-alone", "allow", identity=[doc(allow(resource="*"))]),
    Case("resource-list-any-entry", "allow", identity=[doc(allow(resource=[FN_B, FN]))]),
    Case("resource-arn-pattern-does-not-match-star-request", "implicit", action="lambda:ListFunctions", resource="*", identity=[doc(allow(resource=f"arn:aws:lambda:*:{A}:function:*"))]),
    Case("resource-star-for-list-functions", "allow", action="lambda:ListFunctions", resource="*", identity=[doc(allow("lambda:List*", "*"))]),
    Case("resource-all-segments-wildcard", "allow", identity=[doc(allow(resource="arn:aws:lambda:*:*:*:*"))]),
    Case("resource-service-segment-must-match", "implicit", identity=[doc(allow(resource=f"arn:aws:logs:us-east-1:{A}:function:my-function"))]),
    Case("resource-log-group-prefix", "allow", action="logs:GetLogEvents", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/aws/lambda/my-function:log-stream:abc", identity=[doc(allow("logs:*", f"arn:aws:logs:*:{A}:log-group:/aws/lambda/*"))]),
    Case("resource-layer-version", "allow", action="lambda:GetLayerVersion", resource=f"arn:aws:lambda:us-east-1:{A}:layer:deps:3", identity=[doc(allow("lambda:GetLayerVersion", f"arn:aws:lambda:us-east-1:{A}:layer:deps:*"))]),
    # --- NotResource --------------------------------------------------------------------
    Case("notresource-allow-other-resource", "allow", identity=[doc({"Effect": "Allow", "Action": "lambda:*", "NotResource": FN + "-secret"})]),
    Case("notresource-allow-excluded-resource", "implicit", resource=FN + "-secret", identity=[doc({"Effect": "Allow", "Action": "lambda:*", "NotResource": FN + "-secret"})]),
    Case("notresource-deny-everything-but-one", "deny", resource=FN + "-other", identity=[doc(allow(), {"Effect": "Deny", "Action": "lambda:*", "NotResource": FN})]),
    Case("notresource-deny-spares-the-listed-one", "allow", identity=[doc(allow(), {"Effect": "Deny", "Action": "lambda:*", "NotResource": FN})]),
    Case("notresource-wildcard-excludes-pattern", "implicit", resource=FN + ":prod", identity=[doc({"Effect": "Allow", "Action": "lambda:*", "NotResource": FN + ":*"})]),
    Case("notaction-and-notresource-together", "allow", action="lambda:GetFunction", identity=[doc({"Effect": "Allow", "NotAction": "lambda:Delete*", "NotResource": FN + "-secret"})]),
    # --- Deny wins ----------------------------------------------------------------------
    Case("deny-in-same-policy-wins", "deny", identity=[doc(allow(), deny("lambda:InvokeFunction"))]),
    Case("deny-before-allow-still-wins", "deny", identity=[doc(deny("lambda:InvokeFunction"), allow())]),
    Case("deny-in-another-policy-wins", "deny", identity=[doc(allow()), doc(deny("lambda:Invoke*"))]),
    Case("deny-for-another-resource-does-not-apply", "allow", identity=[doc(allow(), deny(resource=FN_B))]),
    Case("deny-for-another-action-does-not-apply", "allow", identity=[doc(allow(), deny("lambda:Delete*"))]),
    Case("deny-alone-denies-explicitly", "deny", identity=[doc(deny())]),
    Case("deny-with-unmet-condition-does-not-apply", "allow", identity=[doc(allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}}))], keys={"aws:SecureTransport": True}),
    Case("deny-with-met-condition-applies", "deny", identity=[doc(allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}}))], keys={"aws:SecureTransport": False}),
    Case("allow-in-second-policy-suffices", "allow", identity=[doc(allow("logs:*")), doc(allow("lambda:Invoke*"))]),
    Case("statement-as-single-object", "allow", identity=[{"Version": "2012-10-17", "Statement": allow()}]),
    Case("version-2008-still-evaluates", "allow", identity=[doc(allow(), version="2008-10-17")]),
    # --- Callers in the resource's account ------------------------------------------------
    Case("root-needs-no-identity-policy", "allow", principal=ROOT_A),
    Case("root-is-denied-by-resource-policy-deny", "deny", principal=ROOT_A, resource_policy=doc(refuse({"AWS": A}))),
    Case("same-account-resource-policy-naming-user-allows", "allow", resource_policy=doc(grant({"AWS": ALICE.arn}))),
    Case("same-account-resource-policy-naming-account-delegates", "implicit", resource_policy=doc(grant({"AWS": A}))),
    Case("same-account-resource-policy-naming-root-arn-delegates", "implicit", resource_policy=doc(grant({"AWS": f"arn:aws:iam::{A}:root"}))),
    Case("same-account-account-grant-plus-identity-allow", "allow", identity=[doc(allow())], resource_policy=doc(grant({"AWS": A}))),
    Case("same-account-account-grant-lets-root-in", "allow", principal=ROOT_A, resource_policy=doc(grant({"AWS": A}))),
    Case("same-account-account-deny-applies-to-its-users", "deny", identity=[doc(allow())], resource_policy=doc(refuse({"AWS": A}))),
    Case("same-account-user-grant-after-account-grant", "allow", resource_policy=doc(grant({"AWS": A}), grant({"AWS": ALICE.arn}))),
    Case("same-account-resource-policy-star-allows", "allow", resource_policy=doc(grant("*"))),
    Case("same-account-resource-policy-aws-star-allows", "allow", resource_policy=doc(grant({"AWS": "*"}))),
    Case("same-account-resource-policy-for-another-user", "implicit", resource_policy=doc(grant({"AWS": CAROL.arn}))),
    Case("same-account-resource-policy-for-other-action", "implicit", resource_policy=doc(grant({"AWS": A}, "lambda:GetFunction"))),
    Case("same-account-identity-allow-without-resource-policy", "allow", identity=[doc(allow())]),
    Case("same-account-resource-policy-deny-beats-identity-allow", "deny", identity=[doc(allow())], resource_policy=doc(refuse({"AWS": ALICE.arn}))),
    Case("same-account-resource-deny-for-other-user-does-not-apply", "allow", identity=[doc(allow())], resource_policy=doc(refuse({"AWS": CAROL.arn}))),
    Case("identity-deny-beats-resource-allow", "deny", identity=[doc(deny())], resource_policy=doc(grant("*"))),
    Case("role-session-uses-role-policies", "allow", principal=SESSION_A, identity=[doc(allow())]),
    Case("role-session-without-policies", "implicit", principal=SESSION_A),
    Case("resource-policy-naming-role-covers-its-sessions", "allow", principal=SESSION_A, resource_policy=doc(grant({"AWS": f"arn:aws:iam::{A}:role/app-role"}))),
    Case("resource-policy-naming-other-role", "implicit", principal=SESSION_A, resource_policy=doc(grant({"AWS": f"arn:aws:iam::{A}:role/other-role"}))),
    Case("resource-policy-naming-the-session", "allow", principal=SESSION_A, resource_policy=doc(grant({"AWS": SESSION_A.arn}))),
    Case("resource-policy-principal-list", "allow", resource_policy=doc(grant({"AWS": [CAROL.arn, ALICE.arn]}))),
    # --- NotPrincipal -------------------------------------------------------------------
    Case("notprincipal-deny-hits-everyone-else", "deny", principal=CAROL, identity=[doc(allow())], resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "lambda:*", "Resource": FN})),
    Case("notprincipal-deny-spares-the-named", "allow", identity=[doc(allow())], resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "lambda:*", "Resource": FN})),
    Case("notprincipal-allow-for-others", "allow", principal=CAROL, resource_policy=doc({"Effect": "Allow", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "lambda:*", "Resource": FN})),
    Case("notprincipal-allow-not-for-the-named", "implicit", resource_policy=doc({"Effect": "Allow", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "lambda:*", "Resource": FN})),
    # --- Across accounts: both sides must allow --------------------------------------------
    Case("cross-account-both-allow", "allow", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant({"AWS": B}))),
    Case("cross-account-no-identity-allow", "implicit", principal=BOB, resource_policy=doc(grant({"AWS": B}))),
    Case("cross-account-no-resource-policy", "implicit", principal=BOB, identity=[doc(allow())]),
    Case("cross-account-resource-policy-names-other-account", "implicit", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant({"AWS": "333333333333"}))),
    Case("cross-account-resource-policy-star", "allow", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant("*"))),
    Case("cross-account-resource-policy-star-without-identity", "implicit", principal=BOB, resource_policy=doc(grant("*"))),
    Case("cross-account-resource-policy-names-user", "allow", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant({"AWS": BOB.arn}))),
    Case("cross-account-resource-policy-names-root-arn", "allow", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant({"AWS": f"arn:aws:iam::{B}:root"}))),
    Case("cross-account-role-session-by-role-arn", "allow", principal=SESSION_B, identity=[doc(allow())], resource_policy=doc(grant({"AWS": f"arn:aws:iam::{B}:role/deployer"}))),
    Case("cross-account-root-needs-only-resource-policy", "allow", principal=ROOT_B, resource_policy=doc(grant({"AWS": B}))),
    Case("cross-account-root-without-resource-policy", "implicit", principal=ROOT_B),
    Case("cross-account-identity-deny-wins", "deny", principal=BOB, identity=[doc(allow(), deny())], resource_policy=doc(grant({"AWS": B}))),
    Case("cross-account-resource-deny-wins", "deny", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant({"AWS": B}), refuse({"AWS": BOB.arn}))),
    Case("cross-account-identity-allows-other-action", "implicit", principal=BOB, identity=[doc(allow("lambda:GetFunction"))], resource_policy=doc(grant({"AWS": B}))),
    Case("cross-account-resource-policy-other-action", "implicit", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant({"AWS": B}, "lambda:GetFunction"))),
    Case("cross-account-identity-allow-names-resource-arn", "allow", principal=BOB, identity=[doc(allow("lambda:InvokeFunction", FN))], resource_policy=doc(grant({"AWS": B}))),
    Case("cross-account-resource-policy-with-org-condition", "allow", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})), keys={"aws:PrincipalOrgID": "o-abc123"}),
    Case("cross-account-resource-policy-org-condition-fails", "implicit", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})), keys={"aws:PrincipalOrgID": "o-zzz"}),
    Case("cross-account-principal-account-condition", "allow", principal=BOB, identity=[doc(allow())], resource_policy=doc(grant("*", Condition={"StringEquals": {"aws:PrincipalAccount": B}}))),
    # --- Service principals (AddPermission for EventBridge, S3) ----------------------------
    Case("service-principal-allowed-by-resource-policy", "allow", principal=EVENTS, resource_policy=doc(grant({"Service": "events.amazonaws.com"}))),
    Case("service-principal-other-service", "implicit", principal=S3, resource_policy=doc(grant({"Service": "events.amazonaws.com"}))),
    Case("service-principal-without-resource-policy", "implicit", principal=EVENTS, identity=[doc(allow())]),
    Case("service-principal-source-arn-matches", "allow", principal=EVENTS, resource_policy=doc(grant({"Service": "events.amazonaws.com"}, Condition={"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{A}:rule/nightly"}})), keys={"aws:SourceArn": f"arn:aws:events:us-east-1:{A}:rule/nightly"}),
    Case("service-principal-source-arn-differs", "implicit", principal=EVENTS, resource_policy=doc(grant({"Service": "events.amazonaws.com"}, Condition={"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{A}:rule/nightly"}})), keys={"aws:SourceArn": f"arn:aws:events:us-east-1:{A}:rule/hourly"}),
    Case("service-principal-source-arn-missing", "implicit", principal=EVENTS, resource_policy=doc(grant({"Service": "events.amazonaws.com"}, Condition={"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{A}:rule/*"}}))),
    Case("service-principal-source-account-matches", "allow", principal=S3, resource_policy=doc(grant({"Service": "s3.amazonaws.com"}, Condition={"StringEquals": {"AWS:SourceAccount": A}})), keys={"aws:SourceAccount": A}),
    Case("service-principal-source-account-differs", "implicit", principal=S3, resource_policy=doc(grant({"Service": "s3.amazonaws.com"}, Condition={"StringEquals": {"AWS:SourceAccount": A}})), keys={"aws:SourceAccount": B}),
    Case("service-principal-star-principal", "allow", principal=EVENTS, resource_policy=doc(grant("*"))),
    Case("service-principal-resource-deny", "deny", principal=EVENTS, resource_policy=doc(grant({"Service": "events.amazonaws.com"}), refuse({"Service": "events.amazonaws.com"}))),
    Case("trust-policy-lets-lambda-assume-role", "allow", principal=LAMBDA_SVC, action="sts:AssumeRole", resource=f"arn:aws:iam::{A}:role/app-role", resource_policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    Case("trust-policy-refuses-other-service", "implicit", principal=EVENTS, action="sts:AssumeRole", resource=f"arn:aws:iam::{A}:role/app-role", resource_policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    # --- Function URLs (lambda:FunctionUrlAuthType) ----------------------------------------
    Case("function-url-public-none-auth", "allow", principal=Principal("anonymous", "", "anonymous"), action="lambda:InvokeFunctionUrl", resource_policy=doc(grant("*", "lambda:InvokeFunctionUrl", Condition={"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})), keys={"lambda:FunctionUrlAuthType": "NONE"}),
    Case("function-url-auth-type-mismatch", "implicit", principal=Principal("anonymous", "", "anonymous"), action="lambda:InvokeFunctionUrl", resource_policy=doc(grant("*", "lambda:InvokeFunctionUrl", Condition={"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})), keys={"lambda:FunctionUrlAuthType": "AWS_IAM"}),
    # --- Policy variables in Resource ------------------------------------------------------
    Case("variable-username-in-resource", "allow", resource=f"arn:aws:lambda:us-east-1:{A}:function:alice-api", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:username}}-*"))]),
    Case("variable-username-other-users-function", "implicit", resource=f"arn:aws:lambda:us-east-1:{A}:function:carol-api", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:username}}-*"))]),
    Case("variable-username-absent-for-role-session", "implicit", principal=SESSION_A, resource=f"arn:aws:lambda:us-east-1:{A}:function:my-function-api", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:username}}-*"))]),
    Case("variable-principal-tag-in-resource", "allow", resource=f"arn:aws:lambda:us-east-1:{A}:function:blue-worker", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:PrincipalTag/team}}-*"))]),
    Case("variable-default-value-used-when-absent", "allow", principal=CAROL, resource=f"arn:aws:lambda:us-east-1:{A}:function:shared-worker", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:PrincipalTag/team, 'shared'}}-*"))]),
    Case("variable-default-ignored-when-present", "implicit", resource=f"arn:aws:lambda:us-east-1:{A}:function:shared-worker", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:PrincipalTag/team, 'shared'}}-*"))]),
    Case("variable-userid-in-resource", "allow", resource=f"arn:aws:lambda:us-east-1:{A}:function:AIDAALICE", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:userid}}"))]),
    Case("variable-literal-star-is-not-a-wildcard", "implicit", resource=f"arn:aws:lambda:us-east-1:{A}:function:abc", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{*}}"))]),
    Case("variable-value-with-star-is-literal", "implicit", principal=Principal(f"arn:aws:iam::{A}:user/x", A, "user", tags={"team": "*"}), resource=f"arn:aws:lambda:us-east-1:{A}:function:any", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:PrincipalTag/team}}"))]),
    Case("variable-in-2008-version-is-literal-text", "implicit", resource=f"arn:aws:lambda:us-east-1:{A}:function:alice", identity=[doc(allow(resource=f"arn:aws:lambda:us-east-1:{A}:function:${{aws:username}}"), version="2008-10-17")]),
    Case("variable-request-key-in-resource", "allow", resource=f"arn:aws:lambda:us-east-1:{A}:function:f", identity=[doc(allow(resource="arn:aws:lambda:${aws:RequestedRegion}:*:function:*"))], keys={"aws:RequestedRegion": "us-east-1"}),
    # --- AWS managed policies --------------------------------------------------------------
    Case("managed-lambda-read-only-get", "allow", action="lambda:GetFunction", managed=["AWSLambda_ReadOnlyAccess"]),
    Case("managed-lambda-read-only-list", "allow", action="lambda:ListFunctions", resource="*", managed=["AWSLambda_ReadOnlyAccess"]),
    Case("managed-lambda-read-only-cannot-create", "implicit", action="lambda:CreateFunction", managed=["AWSLambda_ReadOnlyAccess"]),
    Case("managed-lambda-read-only-cannot-invoke", "implicit", managed=["AWSLambda_ReadOnlyAccess"]),
    Case("managed-lambda-read-only-reads-lambda-logs", "allow", action="logs:GetLogEvents", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/aws/lambda/my-function:log-stream:s", managed=["AWSLambda_ReadOnlyAccess"]),
    Case("managed-lambda-read-only-not-other-logs", "implicit", action="logs:GetLogEvents", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/app/x:log-stream:s", managed=["AWSLambda_ReadOnlyAccess"]),
    Case("managed-lambda-full-access-creates", "allow", action="lambda:CreateFunction", managed=["AWSLambda_FullAccess"]),
    Case("managed-lambda-full-access-pass-role-to-lambda", "allow", action="iam:PassRole", resource=f"arn:aws:iam::{A}:role/app-role", keys={"iam:PassedToService": "lambda.amazonaws.com"}, managed=["AWSLambda_FullAccess"]),
    Case("managed-lambda-full-access-pass-role-elsewhere", "implicit", action="iam:PassRole", resource=f"arn:aws:iam::{A}:role/app-role", keys={"iam:PassedToService": "ec2.amazonaws.com"}, managed=["AWSLambda_FullAccess"]),
    Case("managed-lambda-full-access-no-put-log-events", "implicit", action="logs:PutLogEvents", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/aws/lambda/f:log-stream:s", managed=["AWSLambda_FullAccess"]),
    Case("managed-basic-execution-writes-logs", "allow", principal=SESSION_A, action="logs:PutLogEvents", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/aws/lambda/f:log-stream:s", managed=["AWSLambdaBasicExecutionRole"]),
    Case("managed-basic-execution-cannot-invoke", "implicit", principal=SESSION_A, managed=["AWSLambdaBasicExecutionRole"]),
    Case("managed-lambda-role-invokes", "allow", principal=SESSION_A, managed=["AWSLambdaRole"]),
    Case("managed-administrator-anything", "allow", action="iam:CreateUser", resource=f"arn:aws:iam::{A}:user/x", managed=["AdministratorAccess"]),
    Case("managed-administrator-still-denied-explicitly", "deny", identity=[doc(deny("lambda:Invoke*"))], managed=["AdministratorAccess"]),
    Case("managed-cloudwatch-read-only-metrics", "allow", action="cloudwatch:GetMetricData", resource="*", managed=["CloudWatchReadOnlyAccess"]),
    Case("managed-cloudwatch-read-only-no-put-metric", "implicit", action="cloudwatch:PutMetricData", resource="*", managed=["CloudWatchReadOnlyAccess"]),
    Case("managed-logs-read-only-filter", "allow", action="logs:FilterLogEvents", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/x", managed=["CloudWatchLogsReadOnlyAccess"]),
    Case("managed-logs-read-only-no-delete", "implicit", action="logs:DeleteLogGroup", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/x", managed=["CloudWatchLogsReadOnlyAccess"]),
    Case("managed-logs-full-access-delete", "allow", action="logs:DeleteLogGroup", resource=f"arn:aws:logs:us-east-1:{A}:log-group:/x", managed=["CloudWatchLogsFullAccess"]),
    Case("managed-eventbridge-full-put-rule", "allow", action="events:PutRule", resource=f"arn:aws:events:us-east-1:{A}:rule/r", managed=["AmazonEventBridgeFullAccess"]),
    Case("managed-eventbridge-read-only-list-rules", "allow", action="events:ListRules", resource="*", managed=["AmazonEventBridgeReadOnlyAccess"]),
    Case("managed-eventbridge-read-only-no-put-rule", "implicit", action="events:PutRule", resource=f"arn:aws:events:us-east-1:{A}:rule/r", managed=["AmazonEventBridgeReadOnlyAccess"]),
    Case("managed-sqs-read-only-list-queues", "allow", action="sqs:ListQueues", resource="*", managed=["AmazonSQSReadOnlyAccess"]),
    Case("managed-sqs-read-only-no-send", "implicit", action="sqs:SendMessage", resource=f"arn:aws:sqs:us-east-1:{A}:q", managed=["AmazonSQSReadOnlyAccess"]),
    Case("managed-read-only-gets-function", "allow", action="lambda:GetFunction", managed=["ReadOnlyAccess"]),
    Case("managed-read-only-no-delete", "implicit", action="lambda:DeleteFunction", managed=["ReadOnlyAccess"]),
]


# Condition operators: (name, operator, key, policy values, request value or MISSING, holds).
# Each row becomes an identity policy allowing lambda:InvokeFunction under that condition.
CONDITIONS: list[tuple[str, str, str, Any, Any, bool]] = [
    ("string-equals-match", "StringEquals", "aws:PrincipalTag/team", "blue", "blue", True),
    ("string-equals-case-sensitive", "StringEquals", "aws:RequestTag/env", "prod", "Prod", False),
    ("string-equals-any-policy-value", "StringEquals", "aws:RequestTag/env", ["dev", "prod"], "prod", True),
    ("string-equals-missing-key", "StringEquals", "aws:RequestTag/env", "prod", MISSING, False),
    ("string-equals-key-case-insensitive", "StringEquals", "AWS:REQUESTTAG/ENV", "prod", "prod", True),
    ("string-equals-multivalued-request-any", "StringEquals", "aws:TagKeys", "env", ["owner", "env"], True),
    ("string-equals-number-value", "StringEquals", "aws:MultiFactorAuthAge", 300, "300", True),
    ("string-not-equals-differs", "StringNotEquals", "aws:RequestTag/env", "prod", "dev", True),
    ("string-not-equals-same", "StringNotEquals", "aws:RequestTag/env", "prod", "prod", False),
    ("string-not-equals-missing-key", "StringNotEquals", "aws:RequestTag/env", "prod", MISSING, True),
    ("string-not-equals-matches-none", "StringNotEquals", "aws:RequestTag/env", ["prod", "stage"], "dev", True),
    ("string-not-equals-matches-one", "StringNotEquals", "aws:RequestTag/env", ["prod", "stage"], "stage", False),
    ("string-not-equals-case-sensitive", "StringNotEquals", "aws:RequestTag/env", "prod", "PROD", True),
    ("string-equals-ignore-case-match", "StringEqualsIgnoreCase", "aws:RequestTag/env", "PROD", "prod", True),
    ("string-equals-ignore-case-differs", "StringEqualsIgnoreCase", "aws:RequestTag/env", "prod", "dev", False),
    ("string-not-equals-ignore-case-same", "StringNotEqualsIgnoreCase", "aws:RequestTag/env", "PROD", "prod", False),
    ("string-not-equals-ignore-case-differs", "StringNotEqualsIgnoreCase", "aws:RequestTag/env", "prod", "dev", True),
    ("string-like-star", "StringLike", "aws:RequestTag/env", "pro*", "production", True),
    ("string-like-question-mark", "StringLike", "aws:RequestTag/env", "de?", "dev", True),
    ("string-like-question-mark-one-char-only", "StringLike", "aws:RequestTag/env", "d?", "dev", False),
    ("string-like-case-sensitive", "StringLike", "aws:RequestTag/env", "pro*", "Production", False),
    ("string-like-missing-key", "StringLike", "aws:RequestTag/env", "*", MISSING, False),
    ("string-like-star-matches-empty", "StringLike", "aws:RequestTag/env", "prod*", "prod", True),
    ("string-like-literal-star-variable", "StringLike", "aws:RequestTag/env", "a${*}b", "a*b", True),
    ("string-like-literal-star-not-wildcard", "StringLike", "aws:RequestTag/env", "a${*}b", "axb", False),
    ("string-equals-literal-question-mark", "StringEquals", "aws:RequestTag/env", "why${?}", "why?", True),
    ("string-equals-literal-dollar", "StringEquals", "aws:RequestTag/env", "${$}5", "$5", True),
    ("string-not-like-matches", "StringNotLike", "aws:RequestTag/env", "prod*", "prod-eu", False),
    ("string-not-like-differs", "StringNotLike", "aws:RequestTag/env", "prod*", "dev", True),
    ("string-not-like-missing-key", "StringNotLike", "aws:RequestTag/env", "prod*", MISSING, True),
    ("numeric-equals", "NumericEquals", "s3:max-keys", "10", "10", True),
    ("numeric-equals-decimal-form", "NumericEquals", "s3:max-keys", "10", "10.0", True),
    ("numeric-equals-differs", "NumericEquals", "s3:max-keys", "10", "11", False),
    ("numeric-equals-not-a-number", "NumericEquals", "s3:max-keys", "10", "ten", False),
    ("numeric-equals-missing", "NumericEquals", "s3:max-keys", "10", MISSING, False),
    ("numeric-not-equals-differs", "NumericNotEquals", "s3:max-keys", "10", "11", True),
    ("numeric-not-equals-same", "NumericNotEquals", "s3:max-keys", "10", "10", False),
    ("numeric-not-equals-missing", "NumericNotEquals", "s3:max-keys", "10", MISSING, True),
    ("numeric-less-than", "NumericLessThan", "s3:max-keys", "10", "5", True),
    ("numeric-less-than-equal-fails", "NumericLessThan", "s3:max-keys", "10", "10", False),
    ("numeric-less-than-equals-equal", "NumericLessThanEquals", "s3:max-keys", "10", "10", True),
    ("numeric-less-than-equals-above", "NumericLessThanEquals", "s3:max-keys", "10", "11", False),
    ("numeric-greater-than", "NumericGreaterThan", "aws:MultiFactorAuthAge", "3600", "7200", True),
    ("numeric-greater-than-equal-fails", "NumericGreaterThan", "aws:MultiFactorAuthAge", "3600", "3600", False),
    ("numeric-greater-than-equals-equal", "NumericGreaterThanEquals", "aws:MultiFactorAuthAge", "3600", "3600", True),
    ("numeric-greater-than-equals-below", "NumericGreaterThanEquals", "aws:MultiFactorAuthAge", "3600", "60", False),
    ("numeric-negative-and-float", "NumericLessThan", "s3:max-keys", "-1.5", "-2", True),
    ("date-equals-same-instant-other-zone", "DateEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", True),
    ("date-equals-epoch-against-iso", "DateEquals", "aws:CurrentTime", "1577836800", "2020-01-01T00:00:00Z", True),
    ("date-equals-date-only", "DateEquals", "aws:CurrentTime", "2020-01-01", "2020-01-01T00:00:00Z", True),
    ("date-not-equals-differs", "DateNotEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", True),
    ("date-not-equals-same", "DateNotEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
    ("date-less-than-before", "DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2019-06-30T12:00:00Z", True),
    ("date-less-than-after", "DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", False),
    ("date-less-than-equals-same", "DateLessThanEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
    ("date-greater-than-after", "DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-01T00:00:01Z", True),
    ("date-greater-than-same", "DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
    ("date-greater-than-equals-same", "DateGreaterThanEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
    ("date-epoch-time-key", "DateGreaterThan", "aws:EpochTime", "2020-01-01T00:00:00Z", "1600000000", True),
    ("date-unreadable-request-value", "DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "yesterday", False),
    ("date-missing-key", "DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", MISSING, False),
    ("bool-true", "Bool", "aws:SecureTransport", "true", True, True),
    ("bool-false-against-true", "Bool", "aws:SecureTransport", "false", True, False),
    ("bool-case-insensitive", "Bool", "aws:SecureTransport", "True", "true", True),
    ("bool-json-boolean-value", "Bool", "aws:MultiFactorAuthPresent", True, "true", True),
    ("bool-missing-key", "Bool", "aws:MultiFactorAuthPresent", "false", MISSING, False),
    ("bool-if-exists-missing-key", "BoolIfExists", "aws:MultiFactorAuthPresent", "false", MISSING, True),
    ("binary-equals-same", "BinaryEquals", "aws:RequestTag/blob", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
    ("binary-equals-differs", "BinaryEquals", "aws:RequestTag/blob", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "b3RoZXI=", False),
    ("ip-address-in-cidr", "IpAddress", "aws:SourceIp", "203.0.113.0/24", "203.0.113.5", True),
    ("ip-address-outside-cidr", "IpAddress", "aws:SourceIp", "203.0.113.0/24", "198.51.100.7", False),
    ("ip-address-single-address", "IpAddress", "aws:SourceIp", "203.0.113.5", "203.0.113.5", True),
    ("ip-address-any-of-list", "IpAddress", "aws:SourceIp", ["192.0.2.0/24", "203.0.113.0/24"], "203.0.113.9", True),
    ("ip-address-ipv6", "IpAddress", "aws:SourceIp", "2001:db8::/32", "2001:db8:1234::1", True),
    ("ip-address-ipv4-not-in-ipv6-range", "IpAddress", "aws:SourceIp", "::/0", "203.0.113.5", False),
    ("ip-address-unreadable-request-value", "IpAddress", "aws:SourceIp", "0.0.0.0/0", "not-an-ip", False),
    ("ip-address-missing-key", "IpAddress", "aws:SourceIp", "0.0.0.0/0", MISSING, False),
    ("not-ip-address-outside", "NotIpAddress", "aws:SourceIp", "203.0.113.0/24", "198.51.100.7", True),
    ("not-ip-address-inside", "NotIpAddress", "aws:SourceIp", "203.0.113.0/24", "203.0.113.7", False),
    ("not-ip-address-missing-key", "NotIpAddress", "aws:SourceIp", "203.0.113.0/24", MISSING, True),
    ("arn-equals-exact", "ArnEquals", "aws:SourceArn", f"arn:aws:sns:us-east-1:{A}:topic", f"arn:aws:sns:us-east-1:{A}:topic", True),
    ("arn-equals-segment-wildcard", "ArnEquals", "aws:SourceArn", "arn:aws:sns:*:*:topic", f"arn:aws:sns:us-east-1:{A}:topic", True),
    ("arn-like-region-wildcard", "ArnLike", "aws:SourceArn", f"arn:aws:events:*:{A}:rule/*", f"arn:aws:events:eu-west-1:{A}:rule/nightly", True),
    ("arn-like-other-account", "ArnLike", "aws:SourceArn", f"arn:aws:events:*:{A}:rule/*", f"arn:aws:events:eu-west-1:{B}:rule/nightly", False),
    ("arn-like-case-sensitive", "ArnLike", "aws:SourceArn", f"arn:aws:events:*:{A}:rule/Nightly", f"arn:aws:events:eu-west-1:{A}:rule/nightly", False),
    ("arn-like-not-an-arn", "ArnLike", "aws:SourceArn", "arn:aws:events:*:*:*", "nightly", False),
    ("arn-like-star-in-resource-part-spans-colons", "ArnLike", "lambda:FunctionArn", f"arn:aws:lambda:*:{A}:function:*", FN + ":prod", True),
    ("arn-like-missing-key", "ArnLike", "aws:SourceArn", "arn:aws:events:*:*:*", MISSING, False),
    ("arn-not-equals-differs", "ArnNotEquals", "aws:SourceArn", f"arn:aws:sns:us-east-1:{A}:topic", f"arn:aws:sns:us-east-1:{A}:other", True),
    ("arn-not-equals-same", "ArnNotEquals", "aws:SourceArn", f"arn:aws:sns:us-east-1:{A}:topic", f"arn:aws:sns:us-east-1:{A}:topic", False),
    ("arn-not-like-matches", "ArnNotLike", "aws:SourceArn", f"arn:aws:sns:*:{A}:*", f"arn:aws:sns:us-east-1:{A}:topic", False),
    ("arn-not-like-missing-key", "ArnNotLike", "aws:SourceArn", f"arn:aws:sns:*:{A}:*", MISSING, True),
    ("null-true-key-absent", "Null", "aws:TokenIssueTime", "true", MISSING, True),
    ("null-true-key-present", "Null", "aws:TokenIssueTime", "true", "2020-01-01T00:00:00Z", False),
    ("null-false-key-present", "Null", "aws:TokenIssueTime", "false", "2020-01-01T00:00:00Z", True),
    ("null-false-key-absent", "Null", "aws:TokenIssueTime", "false", MISSING, False),
    ("null-boolean-json-value", "Null", "aws:ResourceTag/env", True, MISSING, True),
    ("if-exists-missing-key-holds", "StringEqualsIfExists", "aws:RequestTag/env", "prod", MISSING, True),
    ("if-exists-present-match", "StringEqualsIfExists", "aws:RequestTag/env", "prod", "prod", True),
    ("if-exists-present-mismatch", "StringEqualsIfExists", "aws:RequestTag/env", "prod", "dev", False),
    ("if-exists-numeric-missing", "NumericLessThanIfExists", "s3:max-keys", "10", MISSING, True),
    ("if-exists-numeric-present-fails", "NumericLessThanIfExists", "s3:max-keys", "10", "20", False),
    ("if-exists-arn-like-missing", "ArnLikeIfExists", "aws:SourceArn", "arn:aws:sns:*:*:*", MISSING, True),
    ("if-exists-ip-present-inside", "IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", "10.1.2.3", True),
    ("if-exists-negated-present-match", "StringNotEqualsIfExists", "aws:RequestTag/env", "prod", "prod", False),
    ("if-exists-date-missing", "DateGreaterThanIfExists", "aws:CurrentTime", "2020-01-01", MISSING, True),
    ("for-any-value-one-matches", "ForAnyValue:StringEquals", "aws:TagKeys", ["env", "owner"], ["owner", "cost"], True),
    ("for-any-value-none-matches", "ForAnyValue:StringEquals", "aws:TagKeys", ["env"], ["owner", "cost"], False),
    ("for-any-value-missing-key", "ForAnyValue:StringEquals", "aws:TagKeys", ["env"], MISSING, False),
    ("for-any-value-empty-set", "ForAnyValue:StringEquals", "aws:TagKeys", ["env"], [], False),
    ("for-any-value-like", "ForAnyValue:StringLike", "aws:TagKeys", "env-*", ["x", "env-1"], True),
    ("for-any-value-not-equals-one-outside", "ForAnyValue:StringNotEquals", "aws:TagKeys", ["env"], ["env", "owner"], True),
    ("for-any-value-not-equals-all-inside", "ForAnyValue:StringNotEquals", "aws:TagKeys", ["env"], ["env"], False),
    ("for-any-value-if-exists-missing", "ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["env"], MISSING, True),
    ("for-all-values-subset", "ForAllValues:StringEquals", "aws:TagKeys", ["env", "owner", "cost"], ["env", "owner"], True),
    ("for-all-values-one-outside", "ForAllValues:StringEquals", "aws:TagKeys", ["env", "owner"], ["env", "secret"], False),
    ("for-all-values-missing-key-holds", "ForAllValues:StringEquals", "aws:TagKeys", ["env"], MISSING, True),
    ("for-all-values-empty-set-holds", "ForAllValues:StringEquals", "aws:TagKeys", ["env"], [], True),
    ("for-all-values-like", "ForAllValues:StringLike", "aws:TagKeys", ["env-*", "team-*"], ["env-a", "team-b"], True),
    ("for-all-values-not-equals-none-inside", "ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"], ["env", "owner"], True),
    ("for-all-values-not-equals-one-inside", "ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"], ["env", "secret"], False),
    ("for-all-values-case-sensitive", "ForAllValues:StringEquals", "aws:TagKeys", ["env"], ["Env"], False),
    ("for-all-values-ignore-case", "ForAllValues:StringEqualsIgnoreCase", "aws:TagKeys", ["env"], ["Env", "ENV"], True),
    ("for-any-value-single-valued-key", "ForAnyValue:StringEquals", "aws:RequestTag/env", ["prod"], "prod", True),
    ("no-qualifier-negated-multivalued-none-match", "StringNotEquals", "aws:TagKeys", ["secret"], ["env", "owner"], True),
    ("no-qualifier-negated-multivalued-one-matches", "StringNotEquals", "aws:TagKeys", ["secret"], ["env", "secret"], False),
    ("variable-in-condition-username", "StringEquals", "aws:ResourceTag/owner", "${aws:username}", "alice", True),
    ("variable-in-condition-username-other", "StringEquals", "aws:ResourceTag/owner", "${aws:username}", "carol", False),
    ("variable-in-condition-principal-tag", "StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/team}", "blue", True),
    ("variable-in-condition-key-case-insensitive", "StringEquals", "aws:ResourceTag/team", "${AWS:principaltag/TEAM}", "blue", True),
    ("variable-in-condition-unresolved-is-false", "StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/missing}", "blue", False),
    ("variable-in-condition-unresolved-negated-is-false", "StringNotEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/missing}", "blue", False),
    ("variable-in-condition-default", "StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/missing, 'none'}", "none", True),
    ("variable-in-condition-like-prefix", "StringLike", "aws:ResourceTag/path", "home/${aws:username}/*", "home/alice/x", True),
    ("variable-in-condition-like-other-user", "StringLike", "aws:ResourceTag/path", "home/${aws:username}/*", "home/carol/x", False),
    ("variable-in-arn-condition", "ArnLike", "aws:SourceArn", f"arn:aws:iam::{A}:user/${{aws:username}}", ALICE.arn, True),
    ("variable-principal-arn-key", "ArnEquals", "aws:PrincipalArn", "${aws:PrincipalArn}", ALICE.arn, True),
    ("principal-account-key-derived", "StringEquals", "aws:PrincipalAccount", A, MISSING, True),
    ("principal-type-key-derived", "StringEquals", "aws:PrincipalType", "User", MISSING, True),
    ("username-key-derived", "StringEquals", "aws:username", "alice", MISSING, True),
    ("userid-key-derived", "StringLike", "aws:userid", "AIDA*", MISSING, True),
]
# fmt: on
