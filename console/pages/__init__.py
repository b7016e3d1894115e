"""Console pages and the session-authenticated JSON endpoints their scripts call.

Each area owns one module (``functions``, ``code``, ``testing``, ``monitor``,
``configuration``, ``versions``, ``layers``, ``account``) with its views and a
``urlpatterns`` list; a function-page tab module also offers ``context(request, function)``
for its part of the function page. All writes go through the same services as the API.
"""
