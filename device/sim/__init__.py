"""Stand-ins above the run time: the demo, the bench and the loopback OpenAI-compatible server."""
