"""Layers and layer versions rendered as the Lambda API's JSON shapes."""

from __future__ import annotations

from typing import Any

from functions import arns
from functions.models import LayerVersion
from functions.render import aws_timestamp


def layer_version_summary(version: LayerVersion) -> dict[str, Any]:
    """``LayerVersionsListItem``: a version as ListLayerVersions and ListLayers show it."""
    layer = version.layer
    body: dict[str, Any] = {
        "LayerVersionArn": arns.layer_version_arn(layer.account_id, layer.name, version.number),
        "Version": version.number,
        "Description": version.description,
        "CreatedDate": aws_timestamp(version.created),
    }
    if version.compatible_runtimes:
        body["CompatibleRuntimes"] = list(version.compatible_runtimes)
    if version.license_info:
        body["LicenseInfo"] = version.license_info
    if version.compatible_architectures:
        body["CompatibleArchitectures"] = list(version.compatible_architectures)
    return body


def layer_version(version: LayerVersion, location: str) -> dict[str, Any]:
    """The PublishLayerVersion / GetLayerVersion response, with a download link."""
    layer = version.layer
    body: dict[str, Any] = {
        "Content": {
            "Location": location,
            "CodeSha256": version.code_sha256,
            "CodeSize": version.code_size,
        },
        "LayerArn": arns.layer_arn(layer.account_id, layer.name),
    }
    body.update(layer_version_summary(version))
    return body


def layers_list_item(version: LayerVersion) -> dict[str, Any]:
    """``LayersListItem``: a layer with its newest version matching the list's filters."""
    layer = version.layer
    return {
        "LayerName": layer.name,
        "LayerArn": arns.layer_arn(layer.account_id, layer.name),
        "LatestMatchingVersion": layer_version_summary(version),
    }
