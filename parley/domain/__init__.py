"""Pure rules: no I/O, no asyncio; time is passed in."""
