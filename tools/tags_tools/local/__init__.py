"""`tags-local`: the API on your machine, and what it is made of.

- cli.py: the `tags-local` command (`make run`).
- server.py: the WSGI application (docs, `/_local/status`, then the gateway), the functions' environment, the table,
  the demo tenant; `start_local_api` / `LocalApi`.
- gateway.py: API Gateway in process (routing, CORS preflight, the authorizer step, the proxy event and answer,
  the gateway's own errors); settings.py: what it reads from template.yaml; authorizer.py: policy evaluation and
  the result cache.
- invokers.py: a function invoked as Lambda does (in worker processes or in this one).
- stream_poller.py: the table's stream read as Lambda's event source does.
- dynamodb.py: the embedded DynamoDB (moto's server) and `tags-dynamodb`; moto_fixes.py: the fixes that keep moto
  fit for long runs, the only module that touches moto's internals.
- http11.py: the HTTP/1.1 server both serve on (connections kept open, as API Gateway's and DynamoDB's are).
- queue_poller.py: the command queue (embedded SQS) read as Lambda's event source does.
"""
