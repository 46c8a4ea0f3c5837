"""Python code generated from hdra's copies of the kubelet gRPC APIs (``api/proto``).

Owns nothing hand-written: every file below this package is produced by ``tools/gen_protos.py``
(protoc from the pinned ``grpcio-tools``) and must never be edited by hand. Subpackages:
``dra.v1`` and ``dra.v1beta1`` (the DRA node service), ``pluginregistration.v1`` (the kubelet
plugin registration API) and ``drahealth.v1alpha1`` (the DRA resource health stream).
"""
