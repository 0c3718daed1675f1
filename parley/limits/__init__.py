"""Rate-limit backends: where the token buckets live (this process, or Redis for replicas)."""
