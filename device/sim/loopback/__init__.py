"""A real OpenAI-compatible HTTP server on loopback, with a thin scripted model behind it.

- ``server``: ``LoopbackLLM``, the HTTP server and its endpoints;
- ``faults``: the faults it can inject (429, resets, hangs...) and how each breaks an answer;
- ``recording``: the requests it received, kept for tests, checked against the OpenAPI schema;
- ``wire``: the OpenAI wire format: request bodies (JSON, multipart), SSE events, error objects;
- ``scripted``: the stand-in model, a few fixed rules that derive a reply from the request.

The demo, the benchmark and the tests use it because no real cloud model is reachable here.
"""
