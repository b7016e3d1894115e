"""ImageUri references: what is refused before the engine is asked, and the repository a
resolved URI is named by."""

from __future__ import annotations

import pytest

from awsapi.errors import InvalidParameterValue
from functions import images


@pytest.mark.parametrize(
    "uri",
    ["", "UPPER/case:1", "spaces in:name", "a/b:tag:again", "x@sha256:short", "a" * 1025, "../up"],
)
def test_a_malformed_image_uri_is_not_valid_in_awss_words(uri):
    with pytest.raises(InvalidParameterValue) as excinfo:
        images.resolve(uri)
    assert str(excinfo.value) == f"Source image {uri} is not valid. Provide a valid source image."


@pytest.mark.parametrize(
    ("uri", "repository"),
    [
        ("app", "app"),
        ("app:1", "app"),
        ("registry:5000/team/app:1", "registry:5000/team/app"),
        ("registry:5000/team/app", "registry:5000/team/app"),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
        ),
    ],
)
def test_the_resolved_uri_names_the_repository_without_tag_or_digest(uri, repository):
    assert images.repository_of(uri) == repository
