"""Bedrock control-plane shapes (botocore's `bedrock` service model), names as AWS writes them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class InferenceProfileModel(BaseModel):
    modelArn: str


class InferenceProfileSummary(BaseModel):
    """Also the body of GetInferenceProfile."""

    inferenceProfileName: str
    description: str
    createdAt: str
    updatedAt: str
    inferenceProfileArn: str
    models: list[InferenceProfileModel]
    inferenceProfileId: str
    status: Literal["ACTIVE"] = "ACTIVE"
    type: Literal["SYSTEM_DEFINED", "APPLICATION"] = "SYSTEM_DEFINED"


class ListInferenceProfilesResponse(BaseModel):
    inferenceProfileSummaries: list[InferenceProfileSummary]
    nextToken: str | None = None
