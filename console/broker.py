"""The embedded profile's Celery broker: kombu's filesystem transport, written atomically.

kombu's filesystem channel writes a message straight into the queue folder, and a reader
takes whatever file it lists: one that is listed between its creation and its write is
read empty, which loses the message and stops the worker ("Unrecoverable error:
JSONDecodeError"). Here a message is written under a name no reader looks for and then
renamed into place, which POSIX makes atomic: a reader sees the whole message or nothing.

``serve`` running as root runs its worker as an unprivileged user that owns the broker
folders (console/worker_user.py): a file the root server writes there is given to the
folder's owner, so the worker can read and rewrite it whatever root's umask.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # The same signature as kombu's filesystem channel (whose stub overrides the base too).
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Readers only take names ending ".<queue>.msg"; this one ends ".tmp".
        partial = os.path.join(self.data_folder_out, f"{uuid.uuid4()}.tmp")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
                _give_to_folder_owner(file.fileno(), self.data_folder_out)
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        super()._queue_bind(exchange, routing_key, pattern, queue)
        # The file kombu just wrote (it checked the name is a plain child of the folder).
        fd = os.open(self.control_folder / f"{exchange}.exchange", os.O_RDONLY)
        try:
            _give_to_folder_owner(fd, str(self.control_folder))
        finally:
            os.close(fd)


def _give_to_folder_owner(fd: int, folder: str) -> None:
    """As root, make a new file in a folder someone else owns theirs (see the module doc)."""
    if os.geteuid() != 0:
        return
    owner = os.stat(folder)
    if owner.st_uid != 0 and os.fstat(fd).st_uid != owner.st_uid:
        os.fchown(fd, owner.st_uid, owner.st_gid)


class Transport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # Folders, not a host: kombu's "localhost" default makes it warn at every start
        # that no hostname was supplied.
        return {}
