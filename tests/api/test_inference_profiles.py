"""ListInferenceProfiles and GetInferenceProfile through boto3's own `bedrock` client, as
Claude Code and scripts discover the models served (over a FakeEngine: no generation here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from parley.settings import Settings
from parley.store.aws_credentials import CreatedAwsKey
from tests.helpers import API_KEY, create_aws_key, create_keys, fake_app, free_port, running

PROFILE = "us.anthropic.smollm2-135m-instruct-20250207-v1:0"
GLOBAL = "global.anthropic.smollm2-135m-instruct-20250207-v1:0"
FOUNDATION = "anthropic.smollm2-135m-instruct-20250207-v1:0"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, CreatedAwsKey]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("profiles"))
    create_keys(settings)
    with running(fake_app(settings), free_port()) as url:
        yield url, create_aws_key(settings)


def control(served: tuple[str, CreatedAwsKey], region: str = "us-east-1", path: str = "") -> Any:
    url, key = served
    return boto3.client(
        "bedrock",
        region_name=region,
        endpoint_url=url + path,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
    )


def test_the_served_models_are_listed_as_system_defined_profiles(
    served: tuple[str, CreatedAwsKey],
) -> None:
    listed = control(served).list_inference_profiles(typeEquals="SYSTEM_DEFINED")
    [us, world] = listed["inferenceProfileSummaries"]
    assert "nextToken" not in listed
    assert (us["inferenceProfileId"], world["inferenceProfileId"]) == (PROFILE, GLOBAL)
    assert us["inferenceProfileName"] == "US SmolLM2 135M Instruct"
    assert us["inferenceProfileArn"] == (
        f"arn:aws:bedrock:us-east-1:000000000000:inference-profile/{PROFILE}"
    )
    assert us["models"] == [
        {"modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{FOUNDATION}"}
    ]
    assert (us["status"], us["type"]) == ("ACTIVE", "SYSTEM_DEFINED")
    assert us["createdAt"].year == 2025  # botocore parsed the timestamp


def test_a_regional_endpoint_lists_its_geographys_profiles(
    served: tuple[str, CreatedAwsKey],
) -> None:
    client = control(served, "eu-west-3", "/bedrock/eu-west-3")
    ids = [
        p["inferenceProfileId"]
        for p in client.list_inference_profiles()["inferenceProfileSummaries"]
    ]
    assert ids == [f"eu.{FOUNDATION}", GLOBAL]


def test_boto3s_paginator_walks_the_pages(served: tuple[str, CreatedAwsKey]) -> None:
    first = control(served).list_inference_profiles(maxResults=1)
    assert [p["inferenceProfileId"] for p in first["inferenceProfileSummaries"]] == [PROFILE]
    assert first["nextToken"] == "1"
    pages = (
        control(served)
        .get_paginator("list_inference_profiles")
        .paginate(PaginationConfig={"PageSize": 1})
    )
    ids = [p["inferenceProfileId"] for page in pages for p in page["inferenceProfileSummaries"]]
    assert ids == [PROFILE, GLOBAL]


def test_application_profiles_list_empty(served: tuple[str, CreatedAwsKey]) -> None:
    listed = control(served).list_inference_profiles(typeEquals="APPLICATION")
    assert listed["inferenceProfileSummaries"] == []


@pytest.mark.parametrize(
    "identifier", [PROFILE, f"arn:aws:bedrock:us-east-1:000000000000:inference-profile/{PROFILE}"]
)
def test_a_profile_is_got_by_id_or_arn(served: tuple[str, CreatedAwsKey], identifier: str) -> None:
    got = control(served).get_inference_profile(inferenceProfileIdentifier=identifier)
    assert got["inferenceProfileId"] == PROFILE
    assert got["models"][0]["modelArn"].rpartition("/")[2] == FOUNDATION


def test_an_unknown_profile_raises_resource_not_found(served: tuple[str, CreatedAwsKey]) -> None:
    with pytest.raises(ClientError) as raised:
        control(served).get_inference_profile(inferenceProfileIdentifier="us.anthropic.nope-v1:0")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_bad_page_size_raises_a_validation_exception(served: tuple[str, CreatedAwsKey]) -> None:
    response = httpx.get(
        f"{served[0]}/inference-profiles?maxResults=0",
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"


def test_a_bedrock_api_key_may_list_too(served: tuple[str, CreatedAwsKey]) -> None:
    response = httpx.get(
        f"{served[0]}/inference-profiles", headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 200
    assert len(response.json()["inferenceProfileSummaries"]) == 2
