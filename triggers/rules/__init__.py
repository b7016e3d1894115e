"""EventBridge rules on an account's default event bus: the rules and their targets
(``services``, ``selectors``), PutEvents (``events``), the scheduler that fires scheduled
rules once per occurrence across all hosts (``scheduler``), and delivery to Lambda targets
through the asynchronous Invoke path (``delivery``, ``permissions``)."""
