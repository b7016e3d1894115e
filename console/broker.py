"""The embedded profile's Celery broker: kombu's filesystem transport, written atomically.

kombu's filesystem channel writes a message straight into the queue folder, and a reader
takes whatever file it lists: one that is listed between its creation and its write is
read empty, which loses the message and stops the worker ("Unrecoverable error:
JSONDecodeError"). Here a message is written under a name no reader looks for and then
renamed into place, which POSIX makes atomic: a reader sees the whole message or nothing.
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
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
