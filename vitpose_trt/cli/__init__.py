"""Command-line tools: parse arguments, then call the library."""
