"""template.yaml, checked as data: code behind every function, least privilege, the table, logs, errors, auth.

Everything is read through tags_tools.template, the same reader the local server uses, so these tests also pin
down what that reader returns. A function is checked as deployed: its properties merged with Globals, its
permissions those of its inline statements and of the template's managed policies it attaches.
"""

from __future__ import annotations

import importlib
import json
import re
import secrets
import string
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from tags_core.domain.identity import KEY_PATTERN
from tags_core.settings import Settings
from tags_core.store.keys import INDEX_KEYS, STORAGE_ATTRS
from tags_tools import template as tpl

TEMPLATE = tpl.load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_FUNCTION: dict[str, Any] = TEMPLATE["Globals"]["Function"]
SPECS = tpl.functions(TEMPLATE)
AUTHORIZER = tpl.authorizer(TEMPLATE)
API_SPECS = {name: spec for name, spec in SPECS.items() if spec.routes}

MANAGED_POLICIES = {name: res for name, res in RESOURCES.items() if res["Type"] == "AWS::IAM::ManagedPolicy"}

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
READ_ACTIONS = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}
TABLE_ARN = {"Fn::GetAtt": ["TagsTable", "Arn"]}
INDEX_ARN = {"Fn::Sub": "${TagsTable.Arn}/index/*"}

# The operations of the contract that must stay routed (more may be added).
REQUIRED_ROUTES = {
    ("POST", "/tags"): "CreateTagFunction",
    ("POST", "/tags/batch"): "BatchCreateTagsFunction",
    ("GET", "/tags"): "ListTagsFunction",
    ("GET", "/tags/{tag_id}"): "GetTagFunction",
    ("PUT", "/tags/{tag_id}"): "ReplaceTagFunction",
    ("PATCH", "/tags/{tag_id}"): "UpdateTagFunction",
    ("DELETE", "/tags/{tag_id}"): "DeleteTagFunction",
}


STREAM_ARN = {"Fn::GetAtt": ["TagsTable", "StreamArn"]}
# Functions driven by events other than API requests (stream, queues): what each may reach beyond the table.
EVENT_FUNCTIONS: dict[str, list[Any]] = {
    "StreamProcessorFunction": [STREAM_ARN, {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]},
                                {"Fn::GetAtt": ["TagsBus", "Arn"]}],
    "CommandConsumerFunction": [INDEX_ARN, {"Fn::GetAtt": ["CommandQueue", "Arn"]}],
}


def is_read_only(spec: tpl.FunctionSpec) -> bool:
    if spec.logical_id == AUTHORIZER.logical_id:
        return True
    return bool(spec.routes) and all(r.method in READ_METHODS for r in spec.routes)


def properties(logical_id: str) -> dict[str, Any]:
    """A resource's Properties; a function's merged with Globals (what SAM deploys)."""
    if logical_id in SPECS:
        return SPECS[logical_id].properties
    return RESOURCES[logical_id].get("Properties") or {}


def resolve_number(value: Any) -> Any:
    """A literal, or the default of the parameter a {"Ref": ...} points at."""
    if isinstance(value, dict) and "Ref" in value:
        return TEMPLATE.get("Parameters", {})[value["Ref"]].get("Default")
    return value


@pytest.fixture
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a function module may read at import: its template environment (intrinsics as test values)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name, value in SPECS[AUTHORIZER.logical_id].environment.items():
        monkeypatch.setenv(name, value if isinstance(value, str) else f"test-{name.lower()}-0123456789abcdef")


# --- functions and their code ----------------------------------------------------------------------------------

def test_the_contract_routes_are_served_by_the_expected_functions() -> None:
    routes = {(r.method, r.path): r.function for r in tpl.api_routes(TEMPLATE)}
    missing = {k: v for k, v in REQUIRED_ROUTES.items() if routes.get(k) != v}
    assert not missing, f"routes missing or served by another function: {missing}"


def test_each_api_function_has_exactly_one_api_event_on_tags_api() -> None:
    routes = tpl.api_routes(TEMPLATE)
    assert len({(r.method, r.path) for r in routes}) == len(routes), "a method and path is routed twice"
    for name, spec in SPECS.items():
        events = (properties(name).get("Events") or {}).values()
        if name == AUTHORIZER.logical_id:
            assert not events, "the authorizer must not be routed"
            continue
        if name in EVENT_FUNCTIONS:
            assert len(events) == 1 and not spec.routes, f"{name}: one event source, no route"
            continue
        assert len(events) == 1 and len(spec.routes) == 1, f"{name}: one operation per function"
        (event,) = events
        assert event["Type"] == "Api"
        assert event["Properties"]["RestApiId"] == {"Ref": "TagsApi"}, f"{name}: event not on TagsApi"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_function_code_exists_and_defines_its_handler(name: str, lambda_environment: None) -> None:
    spec = SPECS[name]
    assert properties(name)["Handler"] == "app.lambda_handler"
    assert re.fullmatch(r"functions/[a-z0-9_]+", spec.code_uri), f"{name}: CodeUri {spec.code_uri!r}"
    code_dir = tpl.ROOT / spec.code_uri
    assert code_dir.is_dir(), f"{name}: {spec.code_uri}/ does not exist"
    for filename in ("__init__.py", "app.py"):
        assert (code_dir / filename).is_file(), f"{name}: {spec.code_uri}/{filename} is missing"
    assert spec.module == spec.code_uri.replace("/", ".") + ".app"
    module = importlib.import_module(spec.module)
    assert callable(getattr(module, spec.handler, None)), f"{spec.module} defines no {spec.handler}()"


def test_reader_resolves_function_details() -> None:
    get_tag = SPECS["GetTagFunction"]
    assert get_tag.module == "functions.get_tag.app"
    assert get_tag.handler == "lambda_handler"
    assert get_tag.routes == (tpl.Route("GET", "/tags/{tag_id}", "GetTagFunction"),)
    # Globals merged into every function's environment, properties, memory and timeout.
    for spec in SPECS.values():
        assert spec.environment["TABLE_NAME"] == {"Ref": "TagsTable"}
        assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "tags"
        assert spec.properties["Runtime"] == GLOBAL_FUNCTION["Runtime"]
        assert spec.properties["Layers"] == GLOBAL_FUNCTION["Layers"]
        assert spec.properties["LoggingConfig"]["LogFormat"] == "JSON"  # a map merged with the function's own
        assert spec.properties["LoggingConfig"]["LogGroup"] == RESOURCES[spec.logical_id]["Properties"][
            "LoggingConfig"]["LogGroup"]
        assert spec.memory_size == RESOURCES[spec.logical_id]["Properties"].get("MemorySize", 256)
    timeouts = {name: spec.timeout for name, spec in SPECS.items() if spec.timeout != GLOBAL_FUNCTION["Timeout"]}
    assert timeouts == {"MergeTagFunction": 30, "StreamProcessorFunction": 60, "CommandConsumerFunction": 30,
                        "BulkChangeObjectTagsFunction": 28}
    assert {name: spec.stream_batch_size for name, spec in SPECS.items() if spec.stream_batch_size} == {
        "StreamProcessorFunction": 100}
    stream_processor = SPECS["StreamProcessorFunction"].environment
    assert stream_processor["EVENT_BUS_NAME"] == {"Ref": "TagsBus"} and "TABLE_NAME" in stream_processor
    assert SPECS["CommandConsumerFunction"].managed_policies == ("ReadTagsPolicy", "WriteTagsPolicy")


def test_reader_merges_globals_as_sam_does(tmp_path: Path) -> None:
    """Maps merge (the function wins), lists add up (Globals first), scalars and intrinsics are the function's;
    `!Ref`s of the template's managed policies bring their statements."""
    path = tmp_path / "t.yaml"
    path.write_text(
        "Globals:\n"
        "  Function:\n"
        "    Handler: app.handler\n"
        "    Timeout: 10\n"
        "    Layers: [!Ref L]\n"
        "    Environment: {Variables: {A: '1', B: !Ref P}}\n"
        "Resources:\n"
        "  Read:\n"
        "    Type: AWS::IAM::ManagedPolicy\n"
        "    Properties:\n"
        "      PolicyDocument: {Statement: [{Effect: Allow, Action: [x:Get], Resource: [r]}]}\n"
        "  F:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: functions/f/\n"
        "      Timeout: 30\n"
        "      MemorySize: 512\n"
        "      Layers: [!Ref M]\n"
        "      Environment: {Variables: {B: '2', C: '3'}}\n"
        "      Events: {S: {Type: DynamoDB, Properties: {Stream: s, BatchSize: 7}}}\n"
        "      Policies:\n"
        "        - !Ref Read\n"
        "        - AWSLambdaBasicExecutionRole\n"
        "        - {Statement: [{Effect: Allow, Action: x:Put, Resource: r}]}\n"
    )
    spec = tpl.functions(tpl.load_template(path))["F"]
    assert (spec.module, spec.handler, spec.timeout, spec.memory_size) == ("functions.f.app", "handler", 30, 512)
    assert spec.properties["Layers"] == [{"Ref": "L"}, {"Ref": "M"}]
    assert spec.environment == {"A": "1", "B": "2", "C": "3"}
    assert spec.stream_batch_size == 7 and not spec.routes
    assert spec.managed_policies == ("Read",)
    assert spec.actions == {"x:Get", "x:Put"}
    assert spec.resources == ("r", "r")
    assert tpl.merge_globals({"A": {"Ref": "X"}}, {"A": {"Fn::GetAtt": ["Y", "Arn"]}}) == {
        "A": {"Fn::GetAtt": ["Y", "Arn"]}}


def logical_id(value: Any) -> str | None:
    """The resource a `!Ref`, `!GetAtt` or `!Sub '${X.Arn}...'` names (None for a literal)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            found = re.match(r"^\$\{(\w+)", value["Fn::Sub"])
            return found.group(1) if found else None
    return None



# --- asynchronous paths and concurrency ---------------------------------------------------------------------------

ASYNC_EVENT_TYPES = {"S3", "SNS", "EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "CloudWatchLogs",
                     "IoTRule", "AlexaSkill", "Cognito"}


def is_dead_letter_queue(name: str | None) -> bool:
    queue = RESOURCES.get(name or "") or {}
    props = queue.get("Properties") or {}
    return (queue.get("Type") == "AWS::SQS::Queue" and props.get("MessageRetentionPeriod") == 1209600
            and props.get("SqsManagedSseEnabled") is True and "RedrivePolicy" not in props)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_asynchronous_path_ends_in_a_dead_letter_queue(name: str) -> None:
    """Stream records, queue messages and asynchronous invocations that keep failing are kept (14 days), not lost
    and not retried forever. API functions and the authorizer are invoked synchronously: the client sees the error."""
    for event in (properties(name).get("Events") or {}).values():
        kind, event_properties = event["Type"], event.get("Properties") or {}
        if kind in ("DynamoDB", "Kinesis"):
            destination = event_properties["DestinationConfig"]["OnFailure"]["Destination"]
            assert is_dead_letter_queue(logical_id(destination)), f"{name}: on-failure destination"
            assert 0 <= event_properties["MaximumRetryAttempts"] <= 100
            assert event_properties["BisectBatchOnFunctionError"] is True
            assert "ReportBatchItemFailures" in event_properties["FunctionResponseTypes"]
        elif kind == "SQS":
            queue = properties(logical_id(event_properties["Queue"]) or "")
            redrive = queue["RedrivePolicy"]
            assert is_dead_letter_queue(logical_id(redrive["deadLetterTargetArn"])), f"{name}: dead-letter queue"
            assert 1 <= redrive["maxReceiveCount"] <= 10
            assert queue["VisibilityTimeout"] >= 6 * properties(name)["Timeout"]
            assert "ReportBatchItemFailures" in event_properties["FunctionResponseTypes"]
        elif kind in ASYNC_EVENT_TYPES:
            invoke_config = properties(name).get("EventInvokeConfig") or {}
            assert (invoke_config.get("DestinationConfig") or {}).get("OnFailure") or properties(name).get(
                "DeadLetterQueue") or event_properties.get("DeadLetterConfig"), f"{name}: {kind} without a DLQ"
        else:
            assert kind == "Api", f"{name}: event type {kind} is not classified here"


def test_event_rules_keep_what_their_targets_refuse() -> None:
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::Events::Rule":
            for target in resource["Properties"].get("Targets") or []:
                assert "DeadLetterConfig" in target, f"{name}: target {target.get('Id')} has no dead-letter queue"
                assert "RetryPolicy" in target


def test_reserved_concurrency_is_optional_so_small_accounts_can_deploy() -> None:
    """Reserving concurrency fails in an account whose quota would leave under 100 unreserved (new accounts may
    have 10): a reservation is a parameter whose default, 0, reserves nothing."""
    reserving = {name for name in SPECS if "ReservedConcurrentExecutions" in properties(name)}
    assert reserving == {"StreamProcessorFunction", "CommandConsumerFunction"}
    for name in reserving:
        condition, value, otherwise = properties(name)["ReservedConcurrentExecutions"]["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}
        parameter = TEMPLATE["Parameters"][value["Ref"]]
        assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 0, 0)
        assert TEMPLATE["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [value, 0]}]}
    # The command consumer is capped anyway, without a reservation: the queue's maximum concurrency.
    scaling = properties("CommandConsumerFunction")["Events"]["CommandQueue"]["Properties"]["ScalingConfig"]
    assert "Ref" in scaling["MaximumConcurrency"] and 2 <= resolve_number(scaling["MaximumConcurrency"]) <= 20


def test_rate_limit_is_a_parameter_with_the_settings_defaults() -> None:
    env = GLOBAL_FUNCTION["Environment"]["Variables"]
    for field_name, parameter in (("rate_limit_writes", "RateLimitWrites"),
                                  ("rate_limit_window_seconds", "RateLimitWindowSeconds")):
        info = Settings.model_fields[field_name]
        assert env[info.alias] == {"Ref": parameter}
        declared = TEMPLATE["Parameters"][parameter]
        assert (declared["Type"], declared["Default"], declared["MinValue"]) == ("Number", info.default, 1)


CHECKOV_CONFIG = tpl.ROOT / ".checkov.yaml"


def checkov_config_reasons() -> dict[str, str]:
    """The checks .checkov.yaml skips, each with the comment just above it (its reason)."""
    reasons: dict[str, str] = {}
    comment: list[str] = []
    for line in CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
        elif stripped.startswith("- "):
            reasons[stripped[2:].strip()] = " ".join(comment)
            comment = []
        else:
            comment = []
    return reasons


def test_every_checkov_suppression_says_why() -> None:
    skipped_everywhere = checkov_config_reasons()
    assert list(skipped_everywhere) == yaml.safe_load(CHECKOV_CONFIG.read_text(encoding="utf-8"))["skip-check"]
    for check, reason in skipped_everywhere.items():
        assert re.fullmatch(r"CKV2?_AWS_\d+", check), check
        assert len(reason.split()) >= 8, f".checkov.yaml: {check} needs a justification"
    makefile = (tpl.ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--config-file .checkov.yaml" in makefile, "make checkov must use .checkov.yaml"
    for name, resource in RESOURCES.items():
        skips = ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []
        ids = [skip["id"] for skip in skips]
        assert len(ids) == len(set(ids)), name
        assert not set(ids) & set(skipped_everywhere), f"{name}: skipped in .checkov.yaml already"
        for skip in skips:
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
            assert len(str(skip.get("comment") or "").split()) >= 8, f"{name}: {skip['id']} needs a justification"


# --- runtime, layer, environment, logs -------------------------------------------------------------------------

def test_function_globals() -> None:
    assert GLOBAL_FUNCTION["Runtime"] == "python3.13"
    assert GLOBAL_FUNCTION["Handler"] == "app.lambda_handler"
    assert GLOBAL_FUNCTION["Architectures"] == ["x86_64"]
    assert GLOBAL_FUNCTION["MemorySize"] == 256
    assert GLOBAL_FUNCTION["Timeout"] == 10
    assert GLOBAL_FUNCTION["Layers"] == [{"Ref": "CommonLayer"}]
    assert GLOBAL_FUNCTION["LoggingConfig"]["LogFormat"] == "JSON"
    global_variables = set(GLOBAL_FUNCTION["Environment"]["Variables"])
    for name in SPECS:
        own = RESOURCES[name]["Properties"]
        overridden = {"Runtime", "Handler", "Layers", "Architectures"} & set(own)
        assert not overridden, f"{name} overrides {overridden} from Globals"
        own_variables = set((own.get("Environment") or {}).get("Variables") or {})
        assert not own_variables & global_variables, f"{name} overrides Globals variables"


def test_environment_carries_every_required_setting() -> None:
    required = {f.alias for f in Settings.model_fields.values() if f.is_required() and f.alias}
    env = GLOBAL_FUNCTION["Environment"]["Variables"]
    assert required <= set(env), f"Settings needs {sorted(required - set(env))}"
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}  # a parameter (docs/operations.md)
    assert TEMPLATE["Parameters"]["LogLevel"]["Default"] == "INFO"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "TagsService"


def test_cursor_secret_is_generated_and_never_in_the_template() -> None:
    value = GLOBAL_FUNCTION["Environment"]["Variables"]["CURSOR_SECRET"]
    assert value == {"Fn::Sub": "{{resolve:secretsmanager:${CursorSecret}:SecretString}}"}
    secret = RESOURCES["CursorSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    generate = secret["Properties"]["GenerateSecretString"]
    assert generate["PasswordLength"] >= 48 and generate["ExcludePunctuation"] is True
    assert "SecretString" not in secret["Properties"]


def test_layer_is_built_for_the_runtime() -> None:
    layer = RESOURCES["CommonLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == GLOBAL_FUNCTION["Runtime"]
    props = layer["Properties"]
    assert props["CompatibleRuntimes"] == [GLOBAL_FUNCTION["Runtime"]]
    assert props["RetentionPolicy"] == "Delete"
    content = tpl.ROOT / props["ContentUri"]
    assert (content / "tags_core" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()


def test_every_function_logs_to_its_own_group_with_retention() -> None:
    groups = {}
    for name in SPECS:
        log_group = (properties(name).get("LoggingConfig") or {}).get("LogGroup")
        assert isinstance(log_group, dict) and "Ref" in log_group, f"{name}: LoggingConfig.LogGroup must !Ref a group"
        groups[name] = log_group["Ref"]
    assert len(set(groups.values())) == len(groups), f"log groups shared: {groups}"
    for name, group in groups.items():
        resource = RESOURCES[group]
        assert resource["Type"] == "AWS::Logs::LogGroup", f"{name}: {group} is not a log group"
        days = resolve_number(resource["Properties"].get("RetentionInDays"))
        assert isinstance(days, int) and days > 0, f"{group}: no retention"


# --- the table -------------------------------------------------------------------------------------------------

def test_table_is_protected_and_streams_changes() -> None:
    table = RESOURCES["TagsTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert tpl.table_ttl_attribute(TEMPLATE) == "expires_at"


def test_table_keys_match_the_repository() -> None:
    definition = tpl.table_definition(TEMPLATE)
    assert definition["KeySchema"] == [{"AttributeName": "PK", "KeyType": "HASH"},
                                       {"AttributeName": "SK", "KeyType": "RANGE"}]
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    indexes = {i["IndexName"]: i for i in definition["GlobalSecondaryIndexes"]}
    assert set(indexes) == set(INDEX_KEYS)
    for name, (pk, sk) in INDEX_KEYS.items():
        assert indexes[name]["KeySchema"] == [{"AttributeName": pk, "KeyType": "HASH"},
                                              {"AttributeName": sk, "KeyType": "RANGE"}]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
        assert types[pk] == types[sk] == "S"
    assert set(types) == {"PK", "SK"} | {k for keys in INDEX_KEYS.values() for k in keys}
    assert tpl.table_ttl_attribute(TEMPLATE) in STORAGE_ATTRS
    assert definition["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_table_definition_creates_a_table() -> None:
    """The reader's output is valid create_table input (what the local server does)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        client.create_table(TableName="tags-test", **tpl.table_definition(TEMPLATE))
        described = client.describe_table(TableName="tags-test")["Table"]
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2", "GSI3"}


# --- the API ---------------------------------------------------------------------------------------------------

def test_api_stage_throttling_logging_and_cors() -> None:
    api = properties("TagsApi")
    assert RESOURCES["TagsApi"]["Type"] == "AWS::Serverless::Api"
    assert api["StageName"] == "v1"
    assert api["TracingEnabled"] is False
    (settings,) = api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    burst, rate = resolve_number(settings["ThrottlingBurstLimit"]), resolve_number(settings["ThrottlingRateLimit"])
    assert burst > 0 and rate > 0 and burst >= rate
    for value in (settings["ThrottlingBurstLimit"], settings["ThrottlingRateLimit"]):
        assert "Ref" in value, "throttling is a parameter, so a stack can be tuned without editing the template"
    access_log = api["AccessLogSetting"]
    group = RESOURCES[access_log["DestinationArn"]["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup" and resolve_number(group["Properties"]["RetentionInDays"]) > 0
    sample = re.sub(r"\$context\.[A-Za-z.]+", "1", access_log["Format"])
    assert json.loads(sample)["requestId"] == "1"
    assert "Authorization" not in access_log["Format"]
    cors = api["Cors"]
    assert cors["AllowOrigin"] == "'*'"
    headers = cors["AllowHeaders"].strip("'").split(",")
    assert {"Authorization", "Content-Type", "Idempotency-Key", "If-Match"} <= set(headers)
    assert api["Auth"]["AddDefaultAuthorizerToCorsPreflight"] is False


def test_token_authorizer_is_the_default_and_accepts_real_keys() -> None:
    auth = properties("TagsApi")["Auth"]
    config = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert config["FunctionPayloadType"] == "TOKEN"
    assert config["FunctionArn"] == {"Fn::GetAtt": [AUTHORIZER.logical_id, "Arn"]}
    identity = config["Identity"]
    assert identity["Header"] == "Authorization"
    assert identity["ReauthorizeEvery"] == 300
    validation = re.compile(identity["ValidationExpression"])
    alphabet = string.digits + string.ascii_lowercase
    for _ in range(20):
        key = f"tk_{''.join(secrets.choice(alphabet) for _ in range(26))}_{secrets.token_urlsafe(32)}"
        assert KEY_PATTERN.match(key)
        assert validation.fullmatch(f"Bearer {key}"), key
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "bearer abc", "Bearer abc\n"):
        assert not validation.fullmatch(header), header


EXPECTED_GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "unauthenticated"),
    "ACCESS_DENIED": (403, "forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),
    "THROTTLED": (429, "rate_limited"),
    "REQUEST_TOO_LARGE": (413, "payload_too_large"),
    "BAD_REQUEST_BODY": (400, None),
    "BAD_REQUEST_PARAMETERS": (400, None),
    "DEFAULT_4XX": (None, None),
    "DEFAULT_5XX": (None, "internal_error"),
}
GATEWAY_RESPONSES: dict[str, Any] = properties("TagsApi")["GatewayResponses"]


def test_api_gateway_errors_are_all_customised() -> None:
    assert set(EXPECTED_GATEWAY_RESPONSES) <= set(GATEWAY_RESPONSES)


@pytest.mark.parametrize("response_type", sorted(GATEWAY_RESPONSES))
def test_gateway_response_uses_the_error_envelope(response_type: str) -> None:
    response = GATEWAY_RESPONSES[response_type]
    status = int(response["StatusCode"])
    expected_status, expected_code = EXPECTED_GATEWAY_RESPONSES.get(response_type, (None, None))
    if expected_status:
        assert status == expected_status
    assert 400 <= status <= 599
    if status >= 500:
        assert status in (500, 503)

    body_template = response["ResponseTemplates"]["application/json"]
    body = json.loads(re.sub(r"\$context\.([A-Za-z.]+)", r"<\1>", body_template))
    assert set(body) == {"status", "description", "response_time", "request_id", "errors"}
    assert body["status"] == status
    assert body["request_id"] == "<requestId>"
    assert body["response_time"] == "<requestTime>"
    assert body["description"]
    (error,) = body["errors"]
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", error["code"])
    assert error["message"].strip()
    if expected_code:
        assert error["code"] == expected_code
    if status >= 500:
        assert error["code"] in ("internal_error", "service_unavailable")

    headers = response["ResponseParameters"]["Headers"]
    assert headers["X-Request-Id"] == "context.requestId"  # a mapping, not the literal '$context.requestId'
    assert headers["Content-Type"] == "'application/json'"
    assert headers["Access-Control-Allow-Origin"] == "'*'"
    exposed = set(headers["Access-Control-Expose-Headers"].strip("'").split(","))
    assert {"X-Request-Id", "ETag", "Retry-After"} <= exposed
    if status in (429, 503):
        assert re.fullmatch(r"'\d+'", headers["Retry-After"])


def test_outputs() -> None:
    outputs = TEMPLATE["Outputs"]
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${TagsApi}.execute-api.${AWS::Region}.amazonaws.com/v1"}
    assert outputs["TableName"]["Value"] == {"Ref": "TagsTable"}
    assert {"Ref": "CommonLayer"} in [o["Value"] for o in outputs.values()]


# --- the reader itself -----------------------------------------------------------------------------------------

def test_loader_understands_cloudformation_tags(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n"
        "  A:\n"
        "    Type: X\n"
        "    Properties:\n"
        "      R: !Ref B\n"
        "      G: !GetAtt B.Arn\n"
        "      GL: !GetAtt [B, StreamArn]\n"
        "      S: !Sub '${B.Arn}/index/*'\n"
        "      SL: !Sub ['${x}', {x: !Ref B}]\n"
        "      J: !Join [',', [a, !Ref B]]\n"
        "      I: !If [C, 1, 2]\n"
        "      D: 2012-10-17\n"
    )
    props = tpl.load_template(path)["Resources"]["A"]["Properties"]
    assert props == {
        "R": {"Ref": "B"},
        "G": {"Fn::GetAtt": ["B", "Arn"]},
        "GL": {"Fn::GetAtt": ["B", "StreamArn"]},
        "S": {"Fn::Sub": "${B.Arn}/index/*"},
        "SL": {"Fn::Sub": ["${x}", {"x": {"Ref": "B"}}]},
        "J": {"Fn::Join": [",", ["a", {"Ref": "B"}]]},
        "I": {"Fn::If": ["C", 1, 2]},
        "D": "2012-10-17",
    }


def test_loaded_template_is_a_private_copy() -> None:
    first = tpl.load_template()
    first["Resources"].clear()
    assert tpl.load_template()["Resources"], "mutating one caller's template must not affect the next"
    assert tpl.TEMPLATE_PATH == tpl.ROOT / "template.yaml" and tpl.TEMPLATE_PATH.is_file()
