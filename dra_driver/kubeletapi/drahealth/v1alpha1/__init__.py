"""Generated package for ``api/proto/dra_driver/kubeletapi/drahealth/v1alpha1/api.proto``; produced by tools/gen_protos.py, never edit by hand."""
