"""The Kubernetes client adapter: the only package that talks to an API server.

Everything above it sees typed objects from the official ``kubernetes`` client (37.x, pydantic
models) and hdra's own exceptions, never raw HTTP. It must never import anything else of hdra.
"""
