"""Developer and operator tools of the Tags service.

- local/: `tags-local` (`make run`), the API on your machine: gateway, invokers, server, cli, the embedded DynamoDB
  (`tags-dynamodb`), its moto fixes and the table-stream poller.
- bench/: `make bench` (`python -m tags_tools.bench`), one module per phase, then report and document.
- soak.py: `make soak`, `tags-local` under thousands of mixed requests.
- apigw_events.py: API Gateway's request events (REST proxy, TOKEN authorizer) and its route matching.
- sam_events.py: the data the `sam local invoke` files in events/ refer to, and a command that seeds it.
- template.py: template.yaml read (functions, routes, table); openapi.py: the OpenAPI export; admin.py: `tags-admin`.
"""
