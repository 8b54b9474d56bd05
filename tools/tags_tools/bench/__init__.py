"""Performance benchmark of the Tags service: `make bench` (or `python -m tags_tools.bench`).

Prints a summary and writes docs/benchmarks.md. Not part of the test suite: performance is measured here, never
asserted in tests. Standard library plus what the project already depends on (boto3, moto, the SAM CLI).

DynamoDB is moto's server over HTTP, in a process of its own (dynamodb.py). The functions run as on Lambda
(lambda_env.py): in fresh interpreters started without `site` whose path is the function's code, the layer's code
and a directory holding only what the Lambda Python runtime and the layer provide (boto3 and its dependencies; the
layer's requirements), with the template's environment, Lambda's own variables and dummy credentials.

The phases, one module each:

cold    Every function of template.yaml: the time from spawning the interpreter to the handler module imported,
        then the first invocation with a realistic event; the floor, `import boto3; boto3.client("dynamodb")`,
        in the same rounds (shuffled each round, after one discarded warm-up round that also compiles bytecode).
warm    Each operation's handler called in this process (>= 300 timed calls): p50/p99 of the total, the time
        inside DynamoDB calls (botocore's provide-client-params -> after-call hooks: the whole SDK call) and the
        handler's own overhead (the rest).
cost    DynamoDB calls and items read/written per operation, counted in the same hooks, at 1,000 and 20,000 tags.
memory  Peak RSS of one function's process serving 300 requests.
size    The built layer and each function (sam build), unzipped, without what Lambda's runtime provides.

What they share: service.py (the handlers in this process, the DynamoDB meter), state.py (a seeded tenant and the
events it sends), operations.py (every operation and how to build its events), common.py (constants, statistics,
tables). report.py turns the results into figures and targets, document.py into docs/benchmarks.md and the
terminal summary; cli.py is `python -m tags_tools.bench`.
"""
