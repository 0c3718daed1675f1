"""The console: server-rendered pages at /console where an operator with an admin key sees usage,
cost, limits, keys, prompt-cache entries and models. A top layer beside `routes`: it reads and
writes through the services only."""
