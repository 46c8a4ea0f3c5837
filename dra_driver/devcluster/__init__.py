"""hdra's dev cluster: a strict loopback Kubernetes API server (stdlib ``http.server``).

It serves resource.k8s.io/v1 ``resourceslices``, ``deviceclasses``, ``resourceclaims`` (+``/status``)
and ``resourceclaimtemplates``, and core v1 ``nodes``, ``namespaces``, ``pods`` (+``/status``) and
``events`` over real HTTP, so the official ``kubernetes`` client and ``kubectl`` run unmodified
against it. What it models, as the real API server does (reference/testing.md section 2.3):

* one global integer resourceVersion (non-contiguous on purpose) returned as a string; lists carry
  the current RV; DELETED events carry a new RV;
* 409 Conflict on stale PUT / PATCH / DELETE preconditions, 409 AlreadyExists, 500 for a create that
  carries a resourceVersion; no-op updates keep the RV and emit no event;
* server-set uid, creationTimestamp and generation (1, bumped on spec change), ``generateName``;
* status subresources (claims, pods, nodes, namespaces); finalizers and ``deletionTimestamp``;
* field selectors with upstream's per-kind label lists and error texts, label selectors,
  DELETE collection with selectors;
* watch: chunked JSON lines, resume from an RV, selectors, bookmarks, synthetic ADDED for RV
  unset/"0", ``sendInitialEvents``, 410 Expired as an in-stream ERROR below the compaction horizon;
* PATCH: merge patch, JSON patch, strategic merge patch driven by the schema's patch strategies;
* strict OpenAPI validation (kubernetes-validate schemas of the chosen version) and upstream's
  resource.k8s.io rules (``semantic``, ``requests``, ``resource_rules``), 422 Invalid; feature gates
  dropping disabled fields like the real server;
* quantities decoded and stored in canonical form (``1024Mi`` → ``1Gi``; a malformed one is 400)
  and the v1 defaults ``allocationMode: ExactCount``, ``count: 1``, toleration ``operator: Equal``
  (``normalize``). tests/realcluster/test_conformance.py sends one corpus to this server and to
  the real kube-apiserver v1.36.3: they agree on every object hdra writes or reads;
* namespaces must exist for namespaced creates (``default`` and ``kube-system`` are built in);
* test hooks: ``store.compact()``, ``store.close_all_watches()``, ``store.hold()``, ``faults``,
  ``stats``, ``create_node()``.

Not modelled (a real cluster differs here):

* authentication, authorization (RBAC), admission webhooks, audit, API priority and fairness;
* managedFields and server-side apply (``application/apply-patch+yaml`` answers 415);
* ``dryRun`` except ``dryRun=All`` on create (answers 400); ``fieldValidation`` (unknown fields
  are always a 422, even where the real server would drop them with a warning); protobuf and
  Table output (always JSON);
* pagination: ``limit``/``continue`` are ignored and every list is one complete page (as the watch
  cache does for resourceVersion=0); lists at an exact past resourceVersion;
* aggregated discovery (the legacy discovery documents are served) and ``/openapi/v2``
  (``/openapi/v3`` is served, ``openapi.py``: kubectl validates through the server with it);
* pod and other core defaults; CEL type checking of selectors (parsing is checked, ``requests.py``;
  an expression that parses but names an unknown field or is not boolean is stored, the real
  server refuses it); counter references across the slices of a pool; pod spec immutability;
* ``apps/v1`` and other workload kinds (Deployments are not served);
* controllers: no scheduler or allocator (tests write ``status.allocation``), no garbage collector
  (ownerReferences and propagationPolicy are stored but nothing cascades), no namespace
  lifecycle (deleting a namespace does not delete its contents), no pod graceful deletion (a pod is
  removed at once unless it has finalizers), no kubelet, no event TTL;
* the watch-list defaulting of newer servers (a watch without ``sendInitialEvents`` behaves the
  legacy way), and a watch from an RV newer than the server's (it simply waits for it).
"""

from dra_driver.devcluster.errors import ApiError
from dra_driver.devcluster.faults import FaultRule
from dra_driver.devcluster.server import DevCluster

__all__ = ["ApiError", "DevCluster", "FaultRule"]
