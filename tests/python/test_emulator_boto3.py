"""The Evidently emulator driven by boto3/botocore 1.42.50, exactly as a Python user would.

The emulator binary (env ``LAUNCH_OPERATOR_BIN``, default ``target/debug/launch-operator``)
is started once per session on a free loopback port with a temporary data directory; the
quota test gets an instance of its own so that its 50 projects do not affect the others.
Every test creates the resources it needs under fresh names, so tests do not depend on
each other or on their order. Run with ``tools/python-tests.sh``.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
ARN_PREFIX = f"arn:aws:evidently:{REGION}:{ACCOUNT}"
STARTUP_TIMEOUT_S = 20.0


# --------------------------------------------------------------------------------------
# The emulator process and the client
# --------------------------------------------------------------------------------------


def _binary() -> Path:
    configured = os.environ.get("LAUNCH_OPERATOR_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "launch-operator"
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"emulator binary not found or not executable: {path}\n"
            "Build it with `cargo build --bin launch-operator` (from the repository root), "
            "or point LAUNCH_OPERATOR_BIN at a built launch-operator binary.",
            pytrace=False,
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """One `launch-operator emulator` process, stopped through its own Popen handle."""

    def __init__(self, binary: Path):
        self.tmp = Path(tempfile.mkdtemp(prefix="evidently-emulator-py-"))
        self.log_path = self.tmp / "emulator.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Signatures are checked, as in the cluster: boto3 signs with the key test/test.
        keys = self.tmp / "keys.yaml"
        keys.write_text(
            "keys:\n  - {name: tests, accessKeyId: test, secretAccessKey: test,"
            " allow: ['evidently:*']}\n"
        )
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                str(binary),
                "emulator",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                str(self.tmp / "data"),
                "--region",
                REGION,
                "--account-id",
                ACCOUNT,
                "--auth",
                "sigv4",
                "--auth-keys",
                str(keys),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"emulator exited with code {self.proc.returncode} before answering "
                    f"/healthz:\n{self.log()}",
                    pytrace=False,
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        pytest.fail(
            f"emulator did not answer /healthz on {self.url} within {STARTUP_TIMEOUT_S}s:\n"
            f"{self.log()}",
            pytrace=False,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def make_client(url: str, key_id: str = "test", secret: str = "test"):
    return boto3.client(
        "evidently",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="session")
def emulator_binary() -> Path:
    return _binary()


@pytest.fixture(scope="session")
def emulator(emulator_binary):
    emu = Emulator(emulator_binary)
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def client(emulator):
    return make_client(emulator.url)


@pytest.fixture()
def fresh_emulator(emulator_binary):
    """An emulator of its own, for tests that fill account-wide quotas."""
    emu = Emulator(emulator_binary)
    yield emu
    emu.stop()


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


T0 = datetime.datetime(2030, 1, 7, 9, 0, 0, tzinfo=datetime.timezone.utc)


def make_project(client, prefix="proj") -> str:
    name = unique(prefix)
    client.create_project(name=name, description="python test project")
    return name


def make_feature(client, project: str, name: str = "checkout") -> str:
    client.create_feature(
        project=project,
        name=name,
        variations=[
            {"name": "old", "value": {"stringValue": "old-flow"}},
            {"name": "new", "value": {"stringValue": "new-flow"}},
        ],
    )
    return name


def launch_groups(feature: str = "checkout"):
    return [
        {"name": "control", "feature": feature, "variation": "old"},
        {"name": "treatment", "feature": feature, "variation": "new"},
    ]


def splits(control: int, treatment: int, start=T0, overrides=None):
    step = {"startTime": start, "groupWeights": {"control": control, "treatment": treatment}}
    if overrides is not None:
        step["segmentOverrides"] = overrides
    return {"steps": [step]}


def make_launch(client, project: str, name: str | None = None, **extra) -> str:
    name = name or unique("launch")
    client.create_launch(
        project=project,
        name=name,
        groups=launch_groups(),
        scheduledSplitsConfig=splits(90000, 10000),
        **extra,
    )
    return name


def project_with_feature(client) -> str:
    project = make_project(client)
    make_feature(client, project)
    return project


def assert_request_id(response) -> None:
    request_id = response["ResponseMetadata"].get("RequestId")
    assert isinstance(request_id, str) and request_id, response["ResponseMetadata"]


def field_names(err) -> list[str]:
    return [f["name"] for f in err.response.get("fieldList", [])]


# --------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------


def test_create_project_returns_the_project_with_its_arn(client):
    name = unique("proj")
    resp = client.create_project(name=name, description="created from boto3")
    assert_request_id(resp)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    project = resp["project"]
    assert project["name"] == name
    assert project["arn"] == f"{ARN_PREFIX}:project/{name}"
    assert project["description"] == "created from boto3"
    assert project["status"] == "AVAILABLE"
    assert isinstance(project["createdTime"], datetime.datetime)
    assert isinstance(project["lastUpdatedTime"], datetime.datetime)


def test_get_project_returns_counts(client):
    name = project_with_feature(client)
    make_launch(client, name)
    project = client.get_project(project=name)["project"]
    assert project["name"] == name
    assert project["status"] == "AVAILABLE"
    assert project["featureCount"] == 1
    assert project["launchCount"] == 1
    assert project["activeLaunchCount"] == 0


def test_list_projects_paginator_walks_every_page(client):
    names = {make_project(client, "listed") for _ in range(3)}
    paginator = client.get_paginator("list_projects")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 1}))
    listed = [p["name"] for page in pages for p in page["projects"]]
    assert all(len(page["projects"]) == 1 for page in pages)
    assert len(pages) == len(listed) >= 3
    assert len(set(listed)) == len(listed), "a project was listed twice"
    assert names <= set(listed)
    assert listed == sorted(listed), "projects are ordered by name"
    assert "nextToken" not in pages[-1]
    assert all(page["nextToken"] for page in pages[:-1])


def test_update_project_changes_the_description(client):
    name = make_project(client)
    before = client.get_project(project=name)["project"]
    resp = client.update_project(project=name, description="updated")
    assert resp["project"]["description"] == "updated"
    after = client.get_project(project=name)["project"]
    assert after["description"] == "updated"
    assert after["lastUpdatedTime"] >= before["lastUpdatedTime"]


def test_delete_project_removes_it(client):
    name = make_project(client)
    resp = client.delete_project(project=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_request_id(resp)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_project(project=name)


# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------


def test_create_feature_defaults_value_type_and_default_variation(client):
    project = make_project(client)
    resp = client.create_feature(
        project=project,
        name="checkout",
        description="new checkout flow",
        variations=[
            {"name": "old", "value": {"stringValue": "old-flow"}},
            {"name": "new", "value": {"stringValue": "new-flow"}},
        ],
    )
    feature = resp["feature"]
    assert feature["arn"] == f"{ARN_PREFIX}:project/{project}/feature/checkout"
    assert feature["project"] == f"{ARN_PREFIX}:project/{project}"
    assert feature["valueType"] == "STRING"
    assert feature["defaultVariation"] == "old"
    assert feature["evaluationStrategy"] == "ALL_RULES"
    assert feature["status"] == "AVAILABLE"
    assert {v["name"] for v in feature["variations"]} == {"old", "new"}


def test_get_feature_lists_launches_as_evaluation_rules(client):
    project = project_with_feature(client)
    launch = make_launch(client, project)
    feature = client.get_feature(project=project, feature="checkout")["feature"]
    assert feature["name"] == "checkout"
    assert feature["variations"][1]["value"] == {"stringValue": "new-flow"}
    assert feature["evaluationRules"] == [{"name": launch, "type": "aws.evidently.splits"}]


def test_list_features_paginator_walks_every_page(client):
    project = make_project(client)
    for name in ("f-a", "f-b", "f-c"):
        make_feature(client, project, name)
    paginator = client.get_paginator("list_features")
    pages = list(paginator.paginate(project=project, PaginationConfig={"PageSize": 2}))
    assert [len(p["features"]) for p in pages] == [2, 1]
    assert [f["name"] for page in pages for f in page["features"]] == ["f-a", "f-b", "f-c"]
    assert pages[0]["features"][0]["project"] == f"{ARN_PREFIX}:project/{project}"


def test_update_feature_adds_variation_and_changes_default(client):
    project = project_with_feature(client)
    resp = client.update_feature(
        project=project,
        feature="checkout",
        addOrUpdateVariations=[{"name": "beta", "value": {"stringValue": "beta-flow"}}],
        defaultVariation="beta",
    )
    assert resp["feature"]["defaultVariation"] == "beta"
    feature = client.get_feature(project=project, feature="checkout")["feature"]
    assert {v["name"] for v in feature["variations"]} == {"old", "new", "beta"}
    assert feature["defaultVariation"] == "beta"


def test_delete_feature_removes_it(client):
    project = project_with_feature(client)
    client.delete_feature(project=project, feature="checkout")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_feature(project=project, feature="checkout")
    assert client.list_features(project=project)["features"] == []


# --------------------------------------------------------------------------------------
# Launches
# --------------------------------------------------------------------------------------


def test_create_launch_with_project_name(client):
    project = project_with_feature(client)
    name = unique("launch")
    resp = client.create_launch(
        project=project,
        name=name,
        description="10 % first",
        groups=launch_groups(),
        scheduledSplitsConfig=splits(90000, 10000),
    )
    assert_request_id(resp)
    launch = resp["launch"]
    assert launch["arn"] == f"{ARN_PREFIX}:project/{project}/launch/{name}"
    assert launch["project"] == f"{ARN_PREFIX}:project/{project}"
    assert launch["status"] == "CREATED"


def test_create_launch_with_project_arn(client):
    project = project_with_feature(client)
    project_arn = f"{ARN_PREFIX}:project/{project}"
    name = unique("launch")
    resp = client.create_launch(
        project=project_arn,
        name=name,
        groups=launch_groups(),
        scheduledSplitsConfig=splits(50000, 50000),
    )
    assert resp["launch"]["arn"] == f"{project_arn}/launch/{name}"
    assert resp["launch"]["project"] == project_arn
    # Reachable by name and by ARN afterwards.
    assert client.get_launch(project=project, launch=name)["launch"]["name"] == name
    assert client.get_launch(project=project_arn, launch=name)["launch"]["name"] == name


def test_get_launch_returns_arns_defaults_and_datetimes(client):
    project = project_with_feature(client)
    segment = unique("seg")
    client.create_segment(name=segment, pattern='{"Price":[{"numeric":[">",10]}]}')
    name = unique("launch")
    client.create_launch(
        project=project,
        name=name,
        groups=launch_groups(),
        scheduledSplitsConfig=splits(
            90000,
            10000,
            overrides=[
                {
                    "segment": segment,
                    "evaluationOrder": 1,
                    "weights": {"control": 0, "treatment": 100000},
                }
            ],
        ),
    )
    resp = client.get_launch(project=project, launch=name)
    assert_request_id(resp)
    launch = resp["launch"]
    assert launch["project"] == f"{ARN_PREFIX}:project/{project}"
    assert launch["randomizationSalt"] == name
    assert launch["status"] == "CREATED"
    assert launch["type"] == "aws.evidently.splits"
    assert "execution" not in launch
    assert isinstance(launch["createdTime"], datetime.datetime)
    # The output shape names it scheduledSplitsDefinition (the input: scheduledSplitsConfig).
    step = launch["scheduledSplitsDefinition"]["steps"][0]
    assert isinstance(step["startTime"], datetime.datetime)
    assert step["startTime"] == T0
    assert step["groupWeights"] == {"control": 90000, "treatment": 10000}
    override = step["segmentOverrides"][0]
    assert override["segment"] == f"{ARN_PREFIX}:segment/{segment}"
    assert override["weights"] == {"control": 0, "treatment": 100000}
    assert [g["name"] for g in launch["groups"]] == ["control", "treatment"]
    assert launch["groups"][1]["featureVariations"] == {"checkout": "new"}


def test_list_launches_filters_by_status_and_paginates(client):
    project = project_with_feature(client)
    names = sorted(make_launch(client, project) for _ in range(3))
    client.start_launch(project=project, launch=names[1])

    paginator = client.get_paginator("list_launches")
    pages = list(paginator.paginate(project=project, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 3
    assert [l["name"] for page in pages for l in page["launches"]] == names
    assert all("nextToken" in page for page in pages[:-1])
    assert "nextToken" not in pages[-1]

    first = client.list_launches(project=project, maxResults=1)
    assert len(first["launches"]) == 1 and first["nextToken"]

    running = client.list_launches(project=project, status="RUNNING")["launches"]
    assert [l["name"] for l in running] == [names[1]]
    created_pages = list(
        paginator.paginate(project=project, status="CREATED", PaginationConfig={"PageSize": 1})
    )
    created = [l["name"] for page in created_pages for l in page["launches"]]
    assert created == [names[0], names[2]]
    assert client.list_launches(project=project, status="COMPLETED")["launches"] == []


def test_update_launch_changes_weights(client):
    project = project_with_feature(client)
    name = make_launch(client, project)
    before = client.get_launch(project=project, launch=name)["launch"]
    resp = client.update_launch(
        project=project, launch=name, scheduledSplitsConfig=splits(50000, 50000)
    )
    assert resp["launch"]["scheduledSplitsDefinition"]["steps"][0]["groupWeights"] == {
        "control": 50000,
        "treatment": 50000,
    }
    after = client.get_launch(project=project, launch=name)["launch"]
    assert after["scheduledSplitsDefinition"]["steps"][0]["groupWeights"] == {
        "control": 50000,
        "treatment": 50000,
    }
    assert after["status"] == "CREATED"
    assert after["groups"] == before["groups"], "members not given are kept"
    assert after["lastUpdatedTime"] >= before["lastUpdatedTime"]


def test_start_launch_makes_it_running_with_started_time(client):
    project = project_with_feature(client)
    name = make_launch(client, project)
    resp = client.start_launch(project=project, launch=name)
    assert_request_id(resp)
    launch = resp["launch"]
    assert launch["status"] == "RUNNING"
    assert isinstance(launch["execution"]["startedTime"], datetime.datetime)
    got = client.get_launch(project=project, launch=name)["launch"]
    assert got["status"] == "RUNNING"
    assert got["execution"]["startedTime"] == launch["execution"]["startedTime"]
    assert client.get_project(project=project)["project"]["activeLaunchCount"] == 1


def test_stop_launch_cancelled_returns_ended_time_and_sets_reason(client):
    project = project_with_feature(client)
    name = make_launch(client, project)
    client.start_launch(project=project, launch=name)
    resp = client.stop_launch(
        project=project, launch=name, desiredState="CANCELLED", reason="error rate up"
    )
    assert_request_id(resp)
    assert isinstance(resp["endedTime"], datetime.datetime)
    launch = client.get_launch(project=project, launch=name)["launch"]
    assert launch["status"] == "CANCELLED"
    assert launch["statusReason"] == "error rate up"
    assert launch["execution"]["endedTime"] == resp["endedTime"]
    assert launch["execution"]["endedTime"] >= launch["execution"]["startedTime"]


def test_delete_launch_removes_it(client):
    project = project_with_feature(client)
    name = make_launch(client, project)
    resp = client.delete_launch(project=project, launch=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_launch(project=project, launch=name)
    assert client.list_launches(project=project)["launches"] == []


# --------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------

PATTERN = '{"Price":[{"numeric":[">",10]}]}'


def test_create_segment_returns_it_with_its_arn(client):
    name = unique("seg")
    segment = client.create_segment(name=name, pattern=PATTERN, description="big spenders")[
        "segment"
    ]
    assert segment["arn"] == f"{ARN_PREFIX}:segment/{name}"
    assert segment["name"] == name
    assert segment["description"] == "big spenders"
    assert segment["launchCount"] == 0


def test_get_segment_by_name_and_by_arn(client):
    name = unique("seg")
    client.create_segment(name=name, pattern=PATTERN)
    by_name = client.get_segment(segment=name)["segment"]
    by_arn = client.get_segment(segment=f"{ARN_PREFIX}:segment/{name}")["segment"]
    assert by_name == by_arn
    assert by_name["name"] == name


def test_list_segments_paginator_walks_every_page(client):
    names = {unique("seglist") for _ in range(3)}
    for name in names:
        client.create_segment(name=name, pattern=PATTERN)
    paginator = client.get_paginator("list_segments")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 1}))
    listed = [s["name"] for page in pages for s in page["segments"]]
    assert names <= set(listed)
    assert len(set(listed)) == len(listed) == len(pages)


def test_delete_segment_removes_it(client):
    name = unique("seg")
    client.create_segment(name=name, pattern=PATTERN)
    client.delete_segment(segment=name)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_segment(segment=name)


# --------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------


def test_tag_untag_and_list_tags_on_a_launch_arn(client):
    project = project_with_feature(client)
    name = make_launch(client, project, tags={"team": "checkout"})
    arn = f"{ARN_PREFIX}:project/{project}/launch/{name}"
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "checkout"}

    client.tag_resource(resourceArn=arn, tags={"env": "prod", "team": "payments"})
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "team": "payments",
        "env": "prod",
    }

    client.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}
    assert client.get_launch(project=project, launch=name)["launch"]["tags"] == {"env": "prod"}


# --------------------------------------------------------------------------------------
# Error classes
# --------------------------------------------------------------------------------------


def test_unknown_project_is_resource_not_found(client):
    name = unique("missing")
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_project(project=name)
    err = info.value
    assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert_request_id(err.response)
    assert err.response["resourceType"] == "project"
    assert err.response["resourceId"] == f"{ARN_PREFIX}:project/{name}"
    assert name in err.response["Error"]["Message"]


def test_unknown_feature_is_resource_not_found(client):
    project = make_project(client)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_feature(project=project, feature="nope")
    assert info.value.response["resourceType"] == "feature"
    assert info.value.response["resourceId"] == f"{ARN_PREFIX}:project/{project}/feature/nope"


def test_unknown_launch_is_resource_not_found(client):
    project = make_project(client)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_launch(project=project, launch="nope")
    assert info.value.response["resourceType"] == "launch"
    assert info.value.response["resourceId"] == f"{ARN_PREFIX}:project/{project}/launch/nope"


def test_launch_with_unknown_feature_is_resource_not_found(client):
    project = make_project(client)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        make_launch(client, project)
    assert info.value.response["resourceType"] == "feature"


def test_duplicate_project_is_conflict(client):
    name = make_project(client)
    with pytest.raises(client.exceptions.ConflictException) as info:
        client.create_project(name=name)
    err = info.value
    assert err.response["Error"]["Code"] == "ConflictException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert_request_id(err.response)
    assert err.response["resourceType"] == "project"
    assert err.response["resourceId"] == f"{ARN_PREFIX}:project/{name}"


def test_delete_project_with_features_is_conflict(client):
    project = project_with_feature(client)
    with pytest.raises(client.exceptions.ConflictException) as info:
        client.delete_project(project=project)
    assert "sub-resources" in info.value.response["Error"]["Message"]
    # Still there.
    assert client.get_project(project=project)["project"]["featureCount"] == 1


def test_start_launch_twice_is_conflict(client):
    project = project_with_feature(client)
    name = make_launch(client, project)
    client.start_launch(project=project, launch=name)
    with pytest.raises(client.exceptions.ConflictException):
        client.start_launch(project=project, launch=name)


def test_stop_launch_not_running_is_validation_error(client):
    project = project_with_feature(client)
    name = make_launch(client, project)
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.stop_launch(project=project, launch=name)
    assert info.value.response["reason"] == "other"


def test_group_name_with_space_is_validation_error(client):
    project = project_with_feature(client)
    groups = launch_groups()
    groups[1]["name"] = "new checkout"
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.create_launch(project=project, name=unique("launch"), groups=groups)
    err = info.value
    assert err.response["Error"]["Code"] == "ValidationException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert_request_id(err.response)
    assert err.response["reason"] == "fieldValidationFailed"
    assert "groups[1].name" in field_names(err)
    message = err.response["Error"]["Message"]
    assert "validation error" in message and "groups[1].name" in message
    entry = next(f for f in err.response["fieldList"] if f["name"] == "groups[1].name")
    assert "regular expression pattern" in entry["message"]


def test_weight_above_100000_is_validation_error(client):
    project = project_with_feature(client)
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.create_launch(
            project=project,
            name=unique("launch"),
            groups=launch_groups(),
            scheduledSplitsConfig=splits(100001, 0),
        )
    err = info.value
    assert err.response["reason"] == "fieldValidationFailed"
    field = "scheduledSplitsConfig.steps[0].groupWeights[control]"
    assert field in field_names(err)
    assert field in err.response["Error"]["Message"]
    entry = next(f for f in err.response["fieldList"] if f["name"] == field)
    assert "100000" in entry["message"]


def test_more_than_five_groups_is_validation_error(client):
    project = project_with_feature(client)
    groups = [
        {"name": f"g{i}", "feature": "checkout", "variation": "old" if i % 2 else "new"}
        for i in range(6)
    ]
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.create_launch(project=project, name=unique("launch"), groups=groups)
    err = info.value
    assert err.response["reason"] == "fieldValidationFailed"
    assert "groups" in field_names(err)
    entry = next(f for f in err.response["fieldList"] if f["name"] == "groups")
    assert "5" in entry["message"]
    assert err.response["Error"]["Message"].startswith(
        f"{len(err.response['fieldList'])} validation error"
    )


def test_51st_project_exceeds_the_service_quota(fresh_emulator):
    client = make_client(fresh_emulator.url)
    for i in range(50):
        client.create_project(name=f"quota-{i:02d}")
    with pytest.raises(client.exceptions.ServiceQuotaExceededException) as info:
        client.create_project(name="quota-50")
    err = info.value
    assert err.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert_request_id(err.response)
    assert err.response["serviceCode"] == "evidently"
    assert err.response["quotaCode"] == "projects-per-account"
    assert err.response["resourceType"] == "project"
    assert len(client.list_projects()["projects"]) == 50


def test_every_response_has_a_fresh_request_id(client):
    first = client.list_projects(maxResults=1)["ResponseMetadata"]["RequestId"]
    second = client.list_projects(maxResults=1)["ResponseMetadata"]["RequestId"]
    assert first and second and first != second


def test_unserved_operation_is_validation_error_unknown_operation(client):
    # Experiments are not emulated: the call reaches the emulator and gets a typed error.
    project = project_with_feature(client)
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.get_experiment(project=project, experiment="exp")
    assert info.value.response["reason"] == "unknownOperation"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --------------------------------------------------------------------------------------
# The data plane (EvaluateFeature, BatchEvaluateFeature, PutProjectEvents) and patterns
# --------------------------------------------------------------------------------------


def running_launch_with_override(client, project: str) -> str:
    segment = unique("beta")
    client.create_segment(name=segment, pattern=json.dumps({"beta": [True]}))
    launch = unique("roll")
    client.create_launch(
        project=project,
        name=launch,
        groups=launch_groups(),
        scheduledSplitsConfig={
            "steps": [
                {
                    "startTime": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
                    "groupWeights": {"control": 100000, "treatment": 0},
                    "segmentOverrides": [
                        {"segment": segment, "evaluationOrder": 1, "weights": {"treatment": 100000}}
                    ],
                }
            ]
        },
    )
    client.start_launch(project=project, launch=launch)
    return launch


def test_evaluate_feature_default_override_and_launch(client):
    project = project_with_feature(client)
    first = client.evaluate_feature(project=project, feature="checkout", entityId="user-1")
    assert (first["variation"], first["reason"], first["details"]) == ("old", "DEFAULT", "{}")
    assert first["value"] == {"stringValue": "old-flow"}
    client.update_feature(project=project, feature="checkout", entityOverrides={"vip": "new"})
    vip = client.evaluate_feature(project=project, feature="checkout", entityId="vip")
    assert (vip["variation"], vip["reason"]) == ("new", "ENTITY_OVERRIDES_MATCH")
    launch = running_launch_with_override(client, project)
    beta = client.evaluate_feature(
        project=project,
        feature="checkout",
        entityId="user-1",
        evaluationContext=json.dumps({"beta": True, "country": "DE"}),
    )
    assert (beta["variation"], beta["reason"]) == ("new", "LAUNCH_RULE_MATCH")
    assert json.loads(beta["details"]) == {"launch": launch, "group": "treatment"}
    plain = client.evaluate_feature(project=project, feature="checkout", entityId="user-1")
    assert (plain["variation"], plain["reason"]) == ("old", "LAUNCH_RULE_MATCH")


def test_batch_evaluate_feature_answers_in_order(client):
    project = project_with_feature(client)
    running_launch_with_override(client, project)
    out = client.batch_evaluate_feature(
        project=project,
        requests=[
            {"feature": "checkout", "entityId": "a"},
            {"feature": "checkout", "entityId": "b", "evaluationContext": '{"beta": true}'},
            {"feature": "nope", "entityId": "c"},
        ],
    )
    results = out["results"]
    assert [r["entityId"] for r in results] == ["a", "b", "c"]
    assert [r.get("variation") for r in results] == ["old", "new", None]
    assert results[0]["project"] == f"{ARN_PREFIX}:project/{project}"
    assert results[2]["reason"].startswith("Feature does not exist with arn")
    with pytest.raises(client.exceptions.ValidationException):
        client.batch_evaluate_feature(
            project=project,
            requests=[{"feature": "checkout", "entityId": f"u{i}"} for i in range(21)],
        )


def test_evaluate_feature_of_a_missing_project_is_not_found(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.evaluate_feature(project=unique("ghost"), feature="f", entityId="u")
    assert info.value.response["Error"]["Message"].startswith("Project does not exist with arn")


def test_put_project_events_answers_each_event(client):
    project = project_with_feature(client)
    out = client.put_project_events(
        project=project,
        events=[
            {"timestamp": T0, "type": "aws.evidently.custom", "data": json.dumps({"price": 3})},
            {"timestamp": T0, "type": "aws.evidently.evaluation", "data": "not json"},
        ],
    )
    assert out["failedEventCount"] == 1
    assert len(out["eventResults"]) == 2
    assert "errorCode" not in out["eventResults"][0]
    assert out["eventResults"][1]["errorCode"] == "ValidationException"
    assert all(len(r["eventId"]) == 36 for r in out["eventResults"])


def test_test_segment_pattern_and_list_segment_references(client):
    pattern = json.dumps({"Price": [{"numeric": [">", 10, "<=", 20]}], "Name": [{"prefix": "Bo"}]})
    hit = client.test_segment_pattern(pattern=pattern, payload=json.dumps({"Price": 15, "Name": "Bob"}))
    miss = client.test_segment_pattern(pattern=pattern, payload=json.dumps({"Price": 15, "Name": "bob"}))
    assert (hit["match"], miss["match"]) == (True, False)
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.test_segment_pattern(pattern='{"a": [{"regex": "x"}]}', payload="{}")
    assert "unknown operator 'regex'" in info.value.response["Error"]["Message"]
    project = project_with_feature(client)
    launch = running_launch_with_override(client, project)
    segment = client.get_launch(project=project, launch=launch)["launch"]["scheduledSplitsDefinition"][
        "steps"
    ][0]["segmentOverrides"][0]["segment"]
    refs = client.list_segment_references(segment=segment, type="LAUNCH")["referencedBy"]
    assert [(r["name"], r["type"], r["status"]) for r in refs] == [(launch, "LAUNCH", "RUNNING")]


def test_host_prefix_injection_can_be_disabled_by_environment(emulator, monkeypatch):
    # botocore 1.42.50 also reads AWS_DISABLE_HOST_PREFIX_INJECTION (or the config file's
    # disable_host_prefix_injection) when Config(inject_host_prefix=...) is not given.
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    c = boto3.session.Session().client(
        "evidently",
        region_name=REGION,
        endpoint_url=emulator.url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    project = project_with_feature(c)
    assert c.evaluate_feature(project=project, feature="checkout", entityId="u")["reason"] == "DEFAULT"


def test_a_default_client_sends_data_plane_calls_to_the_dataplane_host(emulator, client):
    project = project_with_feature(client)
    c = boto3.session.Session().client(
        "evidently",
        region_name=REGION,
        endpoint_url=emulator.url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    urls = []
    c.meta.events.register("before-send", lambda request, **_: urls.append(request.url))
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        c.evaluate_feature(project=project, feature="checkout", entityId="u")
    assert urls[-1] == f"http://dataplane.127.0.0.1:{emulator.port}/projects/{project}/evaluations/checkout"
    # Control-plane calls of the same client use the endpoint as given.
    c.get_project(project=project)
    assert urls[-1] == f"{emulator.url}/projects/{project}"


def test_a_wrong_secret_or_an_unknown_key_is_refused_with_the_aws_code(emulator):
    with pytest.raises(botocore.exceptions.ClientError) as wrong:
        make_client(emulator.url, secret="not-the-secret").list_projects()
    assert wrong.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert wrong.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        make_client(emulator.url, key_id="AKIDNOBODY").list_projects()
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"
