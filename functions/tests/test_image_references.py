"""ImageUri references: what is refused before the engine is asked, and the repository a
resolved URI is named by."""

from __future__ import annotations

import pytest

from awsapi.errors import InvalidParameterValue
from functions import images

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    "uri",
    ["", "UPPER/case:1", "spaces in:name", "a/b:tag:again", "x@sha256:short", "a" * 1025, "../up"],
)
def test_a_malformed_image_uri_is_not_valid_in_awss_words(uri):
    with pytest.raises(InvalidParameterValue) as excinfo:
        images.resolve(uri, ACCOUNT)
    assert str(excinfo.value) == f"Source image {uri} is not valid. Provide a valid source image."


@pytest.mark.parametrize(
    "uri",
    [
        "999999999999.dkr.ecr.us-east-1.amazonaws.com/app:1",  # another account's registry
        "functory/runtime:latest",  # the platform's own images
        "functory/pinned:" + "a" * 64,  # another function's pinned image
        "sha256:" + "a" * 64,  # an image id: the engine matches any id's prefix
        "0123456789ab",
        "team/app:1",  # a local repository the operator did not share
    ],
)
def test_an_account_cannot_name_images_that_are_not_its_own_or_shared(uri, monkeypatch):
    monkeypatch.setenv("FUNCTORY_IMAGE_REPOSITORIES", "base/,public/")
    with pytest.raises(InvalidParameterValue) as excinfo:
        images.check_reference(uri, ACCOUNT)
    assert str(excinfo.value) == f"Source image {uri} is not valid. Provide a valid source image."


@pytest.mark.parametrize(
    "uri",
    [
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:1",
        f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/team/app@sha256:" + "b" * 64,
        "base/python:3.12",
        "public/tools",
    ],
)
def test_an_account_names_its_own_registrys_images_and_the_shared_ones(uri, monkeypatch):
    monkeypatch.setenv("FUNCTORY_IMAGE_REPOSITORIES", "base/,public/")
    images.check_reference(uri, ACCOUNT)


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
