"""template.yaml's alarms and dashboard (issue 13): every queue and every function has its alarm, the API, the
stream and the table theirs, all sent to the optional topic, and the dashboard shows the service. Read from the
template, as CloudFormation would create them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tags_core import outcomes
from tags_tools import template as tpl

TEMPLATE = tpl.load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
ALARMS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
QUEUES = sorted(name for name, r in RESOURCES.items() if r["Type"] == "AWS::SQS::Queue")
FUNCTIONS = sorted(name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
API_FUNCTIONS = sorted(name for name in FUNCTIONS if any(
    e.get("Type") == "Api" for e in (RESOURCES[name]["Properties"].get("Events") or {}).values()))


def metrics_of(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm watches: its own, or those of its metric math."""
    if "MetricName" in alarm:
        return [{"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"],
                 "Dimensions": alarm.get("Dimensions") or []}]
    return [m["MetricStat"]["Metric"] for m in alarm.get("Metrics") or [] if "MetricStat" in m]


def watching(namespace: str, metric: str, dimension: str, value: Any) -> list[str]:
    return sorted(name for name, alarm in ALARMS.items() for m in metrics_of(alarm)
                  if (m["Namespace"], m["MetricName"]) == (namespace, metric)
                  and {"Name": dimension, "Value": value} in m["Dimensions"])


@pytest.mark.parametrize("queue", QUEUES)
def test_every_queue_has_its_alarm(queue: str) -> None:
    metrics = {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    found = [name for metric in metrics for name in watching("AWS/SQS", metric, "QueueName",
                                                              {"Fn::GetAtt": [queue, "QueueName"]})]
    assert found, f"no alarm watches {queue}"


@pytest.mark.parametrize("queue", ["CommandDeadLetterQueue", "StreamFailureQueue"])
def test_a_single_message_in_a_dead_letter_queue_alarms(queue: str) -> None:
    (name,) = watching("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                       {"Fn::GetAtt": [queue, "QueueName"]})
    alarm = ALARMS[name]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_its_error_and_throttle_alarm(function: str) -> None:
    errors = watching("AWS/Lambda", "Errors", "FunctionName", {"Ref": function})
    throttles = watching("AWS/Lambda", "Throttles", "FunctionName", {"Ref": function})
    assert errors and set(errors) & set(throttles), f"{function}: no alarm on its errors and throttles"
    alarm = ALARMS[errors[0]]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_stream_api_and_table_have_their_alarms() -> None:
    assert watching("AWS/Lambda", "IteratorAge", "FunctionName", {"Ref": "StreamProcessorFunction"})
    api_name = {"Fn::Sub": "${AWS::StackName}-tags"}
    assert RESOURCES["TagsApi"]["Properties"]["Name"] == api_name
    (rate,) = watching("AWS/ApiGateway", "5XXError", "ApiName", api_name)
    assert ALARMS[rate]["Statistic"] == "Average", "5XXError's average is the share of requests answered 5xx"
    (latency,) = watching("AWS/ApiGateway", "Latency", "ApiName", api_name)
    assert ALARMS[latency]["ExtendedStatistic"] == "p99"
    table = {"Ref": "TagsTable"}
    assert watching("AWS/DynamoDB", "ReadThrottleEvents", "TableName", table)
    assert watching("AWS/DynamoDB", "WriteThrottleEvents", "TableName", table)
    assert watching("AWS/DynamoDB", "SystemErrors", "TableName", table)


def test_every_alarm_goes_to_the_optional_topic() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["AlarmEmail"]["Default"] == "" and parameters["AlarmTopicArn"]["Default"] == ""
    assert RESOURCES["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    expected = {"Fn::If": ["SendAlarmsToTopicArn", [{"Ref": "AlarmTopicArn"}],
                           {"Fn::If": ["CreateAlarmTopic", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}]}
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == expected, name
        assert "docs/operations.md#" in alarm["AlarmDescription"], f"{name}: says where to read what to do"


def test_the_dashboard_shows_the_service() -> None:
    (dashboard,) = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = dashboard["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    text = json.dumps(widgets)
    for shown in ("AWS/ApiGateway", "Latency", "5XXError", '\\"Requests\\"', '\\"Errors\\"', "IteratorAge",
                  "ThrottleEvents", *outcomes.NAMES, *(f"${{{q}.QueueName}}" for q in QUEUES)):
        assert shown in text, f"the dashboard does not show {shown}"
    assert all(w["properties"]["region"] == "${AWS::Region}" for w in widgets)


def test_logging_and_snapstart_are_parameters() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert variables["POWERTOOLS_LOGGER_SAMPLE_RATE"] == {"Ref": "LogSampleRate"}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "TagsService"
    for name in API_FUNCTIONS:
        properties = RESOURCES[name]["Properties"]
        assert properties["AutoPublishAlias"] == "live", name
        assert properties["SnapStart"] == {"ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}}
