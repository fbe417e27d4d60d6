"""One query module per aggregate; functions take a connection and return domain value types."""
