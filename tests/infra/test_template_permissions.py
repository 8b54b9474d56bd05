"""template.yaml's permissions, checked as data: least privilege per function, as deployed (inline statements
plus the template's managed policies a function attaches). The template's other checks: test_template.py."""

from __future__ import annotations

import json

import pytest

from tests.infra.test_template import (
    API_SPECS,
    AUTHORIZER,
    EVENT_FUNCTIONS,
    INDEX_ARN,
    MANAGED_POLICIES,
    READ_ACTIONS,
    SPECS,
    TABLE_ARN,
    WRITE_ACTIONS,
    is_read_only,
    logical_id,
    properties,
)

# --- permissions -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
def test_policies_are_explicit_statements(name: str) -> None:
    """SAM policy templates and AWS managed policies hide their actions (several include Scan): not allowed. A
    policy is an inline document or a `!Ref` of a managed policy this template defines with explicit statements."""
    policies = properties(name).get("Policies")
    assert isinstance(policies, list) and policies, f"{name}: needs its own policy statements"
    documents = []
    for policy in policies:
        if isinstance(policy, dict) and set(policy) == {"Ref"}:
            assert policy["Ref"] in MANAGED_POLICIES, f"{name}: {policy['Ref']} is not a managed policy of this stack"
            documents.append(MANAGED_POLICIES[policy["Ref"]]["Properties"]["PolicyDocument"])
        else:
            assert isinstance(policy, dict) and set(policy) <= {"Version", "Statement"}, (
                f"{name}: only inline policy documents or this stack's managed policies, found {policy!r}")
            documents.append(policy)
    statements = [statement for document in documents for statement in document["Statement"]]
    assert statements == list(SPECS[name].statements), "the reader sees every statement the function gets"
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement


def test_managed_policies_are_attached_only_through_functions() -> None:
    """The shared policies name no role, user or group: each function attaches what it needs (Policies), so the
    tests above see every function's permissions."""
    assert set(MANAGED_POLICIES) == {"ReadTagsPolicy", "WriteTagsPolicy"}
    for name, policy in MANAGED_POLICIES.items():
        assert not {"Roles", "Users", "Groups"} & set(policy["Properties"]), name
        assert policy["Properties"]["PolicyDocument"]["Version"] == "2012-10-17"
    attached = {policy for spec in SPECS.values() for policy in spec.managed_policies}
    assert attached == set(MANAGED_POLICIES), "a managed policy no function uses"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_read_functions_get_only_the_read_policy(name: str) -> None:
    spec = SPECS[name]
    if is_read_only(spec):
        assert "WriteTagsPolicy" not in spec.managed_policies, f"{name} only reads"
    if spec.routes:
        expected = ("ReadTagsPolicy",) if is_read_only(spec) else ("ReadTagsPolicy", "WriteTagsPolicy")
        assert spec.managed_policies == expected, f"{name}: {spec.managed_policies}"


# Functions that send to a queue of the stack besides their table access.
QUEUE_SENDERS: dict[str, list[object]] = {"BulkChangeObjectTagsFunction": [{"Fn::GetAtt": ["CommandQueue", "Arn"]}]}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_no_wildcards_and_only_the_table(name: str) -> None:
    spec = SPECS[name]
    extra = EVENT_FUNCTIONS.get(name) or QUEUE_SENDERS.get(name, [])
    assert spec.actions, f"{name}: grants nothing"
    assert all("*" not in a for a in spec.actions), sorted(spec.actions)
    assert all(a.startswith("dynamodb:") for a in spec.actions) or extra, sorted(spec.actions)
    assert spec.resources, f"{name}: statements without resources"
    for resource in spec.resources:
        assert resource != "*"
        assert resource in (TABLE_ARN, INDEX_ARN, *extra), (
            f"{name}: {resource!r} is neither the table, its indexes, nor a resource of its own")


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if is_read_only(s)))
def test_read_only_functions_cannot_write(name: str) -> None:
    spec = SPECS[name]
    assert spec.actions <= READ_ACTIONS, f"{name} may write: {sorted(spec.actions - READ_ACTIONS)}"


def test_authorizer_can_only_get_items_from_the_table() -> None:
    assert AUTHORIZER.logical_id == "AuthorizerFunction"
    assert AUTHORIZER.actions == {"dynamodb:GetItem"}
    assert AUTHORIZER.resources == (TABLE_ARN,)


@pytest.mark.parametrize("name", sorted(n for n, s in API_SPECS.items() if not is_read_only(s)))
def test_write_functions_can_write_the_table_but_not_indexes(name: str) -> None:
    spec = SPECS[name]
    queues = {"sqs:SendMessage"} if name == "BulkChangeObjectTagsFunction" else set()  # its jobs' chunks
    assert spec.actions == WRITE_ACTIONS | READ_ACTIONS | queues
    for statement in spec.statements:
        actions = set(statement["Action"]) if isinstance(statement["Action"], list) else {statement["Action"]}
        if actions & WRITE_ACTIONS:
            assert statement["Resource"] in (TABLE_ARN, [TABLE_ARN]), "writes go to the table only"


@pytest.mark.parametrize("name", sorted(API_SPECS))
def test_api_functions_can_query_the_indexes(name: str) -> None:
    """Every operation reads tags (ListTags pages through the name indexes)."""
    statements = SPECS[name].statements
    assert any("dynamodb:Query" in s["Action"] and INDEX_ARN in s["Resource"] and TABLE_ARN in s["Resource"]
               for s in statements), f"{name}: no Query on the table and its indexes"
    assert {"dynamodb:GetItem", "dynamodb:Query"} <= SPECS[name].actions


def used_resources(name: str) -> set[str]:
    """What a function works with: the table, its event sources and their failure destinations, and the resources
    its environment names (the bus for EVENT_BUS_NAME)."""
    used = {"TagsTable"}
    for event in (properties(name).get("Events") or {}).values():
        event_properties = event.get("Properties") or {}
        on_failure = ((event_properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        for value in (event_properties.get("Stream"), event_properties.get("Queue"), on_failure):
            used.add(logical_id(value) or "")
    used.update(logical_id(value) or "" for value in SPECS[name].environment.values())
    return used - {""}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_function_names_only_resources_it_uses(name: str) -> None:
    granted = {logical_id(resource) for resource in SPECS[name].resources}
    assert None not in granted, f"{name}: a resource that is not one of the stack's"
    assert granted <= used_resources(name), f"{name} may reach {sorted(granted - used_resources(name))}, unused"
    for resource in SPECS[name].resources:
        if "*" in json.dumps(resource):
            assert resource == INDEX_ARN, f"{name}: wildcard resource {resource!r} (only the table's indexes)"


def test_only_the_stream_processor_publishes_and_only_the_consumer_takes_commands() -> None:
    def holders(action: str) -> set[str]:
        return {name for name, spec in SPECS.items() if action in spec.actions}

    assert holders("events:PutEvents") == {"StreamProcessorFunction"}
    assert holders("dynamodb:GetRecords") == {"StreamProcessorFunction"}
    assert holders("sqs:ReceiveMessage") == holders("sqs:DeleteMessage") == {"CommandConsumerFunction"}
    # The stream processor: its own on-failure queue only; the bulk route: its jobs' chunks to the command queue.
    assert holders("sqs:SendMessage") == {"StreamProcessorFunction", "BulkChangeObjectTagsFunction"}
    assert not holders("dynamodb:Scan") and not holders("dynamodb:DeleteTable")


