"""The partner-cloud shapes of the Messages API: Vertex AI and Amazon Bedrock."""
