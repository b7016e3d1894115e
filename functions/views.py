"""Non-API HTTP endpoints of the control plane: code package downloads."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse

from functions import code_location, codestore


def code_download(request: HttpRequest, token: str) -> HttpResponse | FileResponse:
    grant = code_location.verify(token)
    if grant is None:
        return HttpResponse("Request has expired or the link is invalid.", status=403)
    _account_id, digest, filename = grant
    if not codestore.storage().exists(codestore.blob_key(digest)):
        return HttpResponse("The specified key does not exist.", status=404)
    handle = codestore.storage().open(codestore.blob_key(digest), "rb")
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type="application/zip"
    )
