"""``{% load console_permissions %}``: a control the user may not use, rendered disabled.

``<button {% denied_attrs controls.deploy %}>`` adds ``disabled``, the reason as its title
and ``data-denied`` (which the page scripts keep disabled); ``{% denied_note controls.deploy %}``
is the short visible note ("You need lambda:UpdateFunctionCode to deploy code."). Both are
empty when the control is allowed.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from platformapi.permissions import Denied

register = template.Library()


@register.simple_tag
def denied_attrs(denied: Denied | None) -> SafeString | str:
    if not denied:
        return ""
    return format_html(
        'disabled aria-disabled="true" title="{}" data-denied="{}"', denied.message, denied.note
    )


@register.simple_tag
def denied_note(denied: Denied | None) -> SafeString | str:
    if not denied:
        return ""
    return format_html('<p class="denied-note" title="{}">{}</p>', denied.message, denied.note)
