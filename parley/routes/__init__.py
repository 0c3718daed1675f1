"""The HTTP edge: parse, make one service call, encode. No business rules live here."""
