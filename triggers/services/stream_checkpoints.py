"""Stream checkpoints: read and written by the stream pollers (in their threads), one row
per mapping and shard. Writers hold the mapping's lease (the poller asks ``may_deliver``
before every write)."""

from __future__ import annotations

from dataclasses import dataclass

from triggers.models import EventSourceMapping, StreamCheckpoint


@dataclass(frozen=True)
class Checkpoint:
    shard_id: str
    # "" when no record of the shard is done yet.
    sequence_number: str
    finished: bool
    # When the row was last written (epoch seconds): for a shard begun at LATEST with no
    # record done yet, where a new holder resumes (AT_TIMESTAMP), so nothing put meanwhile
    # is skipped.
    updated: float = 0.0


def checkpoints_load(mapping_uuid: str) -> dict[str, Checkpoint]:
    """Every shard's checkpoint of a mapping, by shard id."""
    rows = StreamCheckpoint.objects.filter(mapping__uuid=mapping_uuid).values_list(
        "shard_id", "sequence_number", "finished", "updated"
    )
    return {
        shard: Checkpoint(shard, sequence, finished, updated.timestamp())
        for shard, sequence, finished, updated in rows
    }


def checkpoint_save(
    mapping_uuid: str,
    shard_id: str,
    sequence_number: str,
    *,
    parent_shard_ids: tuple[str, ...] = (),
    finished: bool = False,
) -> None:
    """Record how far a shard is done (nothing when the mapping was deleted meanwhile)."""
    mapping_id = (
        EventSourceMapping.objects.filter(uuid=mapping_uuid).values_list("pk", flat=True).first()
    )
    if mapping_id is None:
        return
    defaults: dict[str, object] = {
        "parent_shard_ids": ",".join(parent_shard_ids)[:300],
        "finished": finished,
    }
    if sequence_number:
        defaults["sequence_number"] = sequence_number
    StreamCheckpoint.objects.update_or_create(
        mapping_id=mapping_id, shard_id=shard_id, defaults=defaults
    )


def checkpoints_forget(mapping_uuid: str) -> None:
    """Drop a mapping's checkpoints (its stream changed: the old shards mean nothing)."""
    StreamCheckpoint.objects.filter(mapping__uuid=mapping_uuid).delete()
