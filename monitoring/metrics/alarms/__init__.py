"""CloudWatch metric alarms: their configuration and state (``models``), what PutMetricAlarm
and the other alarm operations write (``services``) and read (``selectors``), how an alarm's
datapoints decide its state (``evaluation``, pure), the once-a-minute evaluation of every
alarm (``services.alarms_evaluate``) and the hook through which an upper layer runs alarm
actions (``actions``)."""
