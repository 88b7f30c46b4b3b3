"""The Faust app and its agents: decode, call detectors/, persist to Redis, publish."""
