"""The HTTP layer: the resolver every function builds, request parameters, responses, envelopes, validation bounds
and idempotency. The only place that knows API Gateway events and turns domain errors into responses."""
