"""Events offline: S3 events as EventBridge delivers them and the local bus (``bus``),
the EventBridge pattern matcher (``pattern``, ``wildcard_complexity``), S3 sequencers
(``sequencer``)."""
