"""The base of hdra's own Kubernetes models: pydantic v2, the API's wire names, nothing lost.

Contract of every model in this package:

- Python field names are the snake-case names the official client uses (``resource_version``), and
  the wire names are the API's camelCase (``resourceVersion``): ``to_camel`` derives them, and a
  field whose wire name does not follow the rule (``shareID``) spells its alias out. Both spellings
  are accepted on input; output is always the wire spelling.
- ``openapi`` names the API type a model stands for (``io.k8s.api.resource.v1.Device``);
  tests/kube/test_models_schema.py pins every declared field's wire name, type and requiredness to
  that type in the Kubernetes OpenAPI schema, so a misspelt field fails a test.
- Fields hdra does not model are kept (``extra="allow"``) and written back unchanged, so a
  read-modify-write never drops what a newer API server added. Keyword typos in constructors are
  caught by mypy (the pydantic plugin's ``init_forbid_extra``), not at run time.
- Scalars are strict (a string is never coerced into an int) and assignments are validated, like
  the official client's models.
"""

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# A Kubernetes resource.Quantity on the wire: always its string form ("40Gi", "100").
Quantity = str
# A metav1.Time / MicroTime: RFC 3339 on the wire.
Time = datetime

JsonDict = dict[str, Any]


class KubeModel(BaseModel):
    """One Kubernetes API type (or a part of one). See the module docstring for the contract."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        validate_assignment=True,
        extra="allow",
        protected_namespaces=(),
    )

    openapi: ClassVar[str] = ""

    def to_json(self) -> JsonDict:
        """The object as the API's JSON: camelCase keys, no nulls, RFC 3339 times."""
        dumped: JsonDict = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        return dumped
