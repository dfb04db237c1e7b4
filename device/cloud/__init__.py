"""Everything that talks to an OpenAI-compatible endpoint: client, provider chain, brain, tools,
vision and cloud speech. Every upload passes the egress gate (``device.egress``)."""
