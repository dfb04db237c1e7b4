"""A real OpenAI-compatible HTTP server on loopback, with a thin scripted model behind it.

- ``server``: ``LoopbackLLM``, the HTTP server, its endpoints and the faults it can inject;
- ``wire``: the OpenAI wire format: request bodies (JSON, multipart), SSE events, error objects;
- ``scripted``: the stand-in model, a few fixed rules that derive a reply from the request.

The demo, the benchmark and the tests use it because no real cloud model is reachable here.
"""
