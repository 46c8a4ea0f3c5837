"""Generated package for ``api/proto/dra_driver/kubeletapi/pluginregistration/v1/api.proto``; produced by tools/gen_protos.py, never edit by hand."""
