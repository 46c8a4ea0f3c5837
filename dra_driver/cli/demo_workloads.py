"""The demo's built-in workloads: the scenarios hdra exists for, as pods with ResourceClaims.

Owns: one ``Workload`` per scenario (a pod name and the claims its containers use), written in
the plain API shape (``resource.k8s.io/v1`` ResourceClaim specs) that a user would apply. The
selectors use the attributes every hdra slice carries (DESIGN §4); memory and cores are
``capacity.requests`` so the scheduler, not the driver, does the accounting. A request for whole
cards also carries ``whole_card_selector``, so pieces of a card (replicas, partitions) never
satisfy it. For an API server without DRAConsumableCapacity, which drops ``capacity.requests``
and ``distinctAttribute``, the same minimums are written as CEL selectors on the device's
published capacity (GA), so a claim gets a device at least as large as it asks for in every mode
and on every version; only "distinct cards" cannot be said there. It must never depend on which
node the cards are on: placement is the allocator's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dra_driver.rules import CORES, FULL_CORES, MEMORY
from dra_driver.slices import whole_card_selector


@dataclass(frozen=True)
class Workload:
    """A pod of the demo and the claims it uses (each claim: name → ResourceClaim spec)."""

    name: str
    description: str
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)

    def drivers(self) -> list[str]:
        """The DeviceClasses (= driver names) its requests use."""
        return sorted(
            {r["exactly"]["deviceClassName"] for c in self.claims.values() for r in c["devices"]["requests"]}
        )


@dataclass(frozen=True)
class RequestStyle:
    """How requests are written for the API server at hand (DRAConsumableCapacity on or off)."""

    consumable_capacity: bool = True

    def request(
        self,
        driver: str,
        *,
        count: int = 1,
        memory: str | None = None,
        cores: int | None = None,
        whole_card: bool = False,
        selectors: tuple[str, ...] = (),
        name: str = "gpu",
    ) -> dict[str, Any]:
        exactly: dict[str, Any] = {"deviceClassName": driver, "allocationMode": "ExactCount", "count": count}
        expressions = list(selectors)
        if whole_card:
            expressions.append(whole_card_selector(driver))
            cores = FULL_CORES
        wanted = {MEMORY: memory, CORES: None if cores is None else str(cores)}
        requests = {key: value for key, value in wanted.items() if value is not None}
        if requests and self.consumable_capacity:
            exactly["capacity"] = {"requests": requests}
        elif requests:
            expressions += [
                f'device.capacity["{driver}"].{key}.compareTo(quantity("{value}")) >= 0'
                for key, value in requests.items()
            ]
        if expressions:
            exactly["selectors"] = [{"cel": {"expression": expression}} for expression in expressions]
        return {"name": name, "exactly": exactly}

    def claim(self, driver: str, request: dict[str, Any], *, distinct_cards: bool = False) -> dict[str, Any]:
        devices: dict[str, Any] = {"requests": [request]}
        if distinct_cards and self.consumable_capacity:
            devices["constraints"] = [{"requests": [request["name"]], "distinctAttribute": f"{driver}/uuid"}]
        return {"devices": devices}


def _product(driver: str, text: str) -> str:
    return f'device.attributes["{driver}"].productName.contains("{text}")'


def builtin_workloads(driver: str, pinned_uuid: str, style: RequestStyle = RequestStyle()) -> list[Workload]:
    """The scenarios of the mission; ``pinned_uuid`` is a real card UUID for the UUID-selection pod."""
    _claim, _request = style.claim, style.request
    return [
        Workload(
            "train-llm",
            "distributed training on 4 whole H200 cards",
            {
                "train-llm-gpus": _claim(
                    driver,
                    _request(driver, count=4, selectors=(_product(driver, "H200"),), whole_card=True),
                    distinct_cards=True,
                )
            },
        ),
        Workload(
            "lora-finetune",
            "LoRA fine-tuning on 1 whole A100",
            {
                "lora-gpu": _claim(
                    driver, _request(driver, selectors=(_product(driver, "A100"),), whole_card=True)
                )
            },
        ),
        Workload(
            "chat-inference",
            "single-card inference: 20 GiB and 50 % of any card",
            {"chat-gpu": _claim(driver, _request(driver, memory="20Gi", cores=50))},
        ),
        Workload(
            "vision-inference",
            "2-card inference: 16 GiB and 30 % on each of two different cards",
            {
                "vision-gpus": _claim(
                    driver, _request(driver, count=2, memory="16Gi", cores=30), distinct_cards=True
                )
            },
        ),
        Workload(
            "embedding",
            "embedding service sharing an A100 by memory and cores",
            {
                "embedding-gpu": _claim(
                    driver, _request(driver, memory="6Gi", cores=20, selectors=(_product(driver, "A100"),))
                )
            },
        ),
        Workload(
            "rerank",
            "rerank service sharing the same A100",
            {
                "rerank-gpu": _claim(
                    driver, _request(driver, memory="8Gi", cores=25, selectors=(_product(driver, "A100"),))
                )
            },
        ),
        Workload(
            "ocr",
            "OCR service sharing the same A100",
            {
                "ocr-gpu": _claim(
                    driver, _request(driver, memory="4Gi", cores=15, selectors=(_product(driver, "A100"),))
                )
            },
        ),
        Workload(
            "v100-batch",
            "type selection: only a V100, 10 GiB",
            {
                "v100-gpu": _claim(
                    driver, _request(driver, memory="10Gi", cores=30, selectors=(_product(driver, "V100"),))
                )
            },
        ),
        Workload(
            "not-v100",
            "type exclusion: anything but a V100, 12 GiB",
            {
                "not-v100-gpu": _claim(
                    driver,
                    _request(driver, memory="12Gi", cores=20, selectors=(f"!{_product(driver, 'V100')}",)),
                )
            },
        ),
        Workload(
            "pinned-uuid",
            "UUID selection: exactly one named card, 5 GiB",
            {
                "pinned-gpu": _claim(
                    driver,
                    _request(
                        driver,
                        memory="5Gi",
                        cores=10,
                        selectors=(f'device.attributes["{driver}"].uuid == "{pinned_uuid}"',),
                    ),
                )
            },
        ),
        Workload(
            "h100-wanted",
            "asks for an H100, which no node has: stays Pending with the reason",
            {
                "h100-gpu": _claim(
                    driver, _request(driver, memory="10Gi", selectors=(_product(driver, "H100"),))
                )
            },
        ),
    ]


def vendor_workloads(style: RequestStyle = RequestStyle()) -> list[Workload]:
    """Workloads for the other vendors' nodes: Cambricon by share, Ascend 910B by size."""
    _claim, _request = style.claim, style.request
    mlu, npu = "cambricon.hdra.io", "ascend.hdra.io"
    return [
        Workload(
            "mlu-inference",
            "Cambricon MLU370: 20 % of the memory (9830 MiB of 48 GiB)",
            {"mlu-share": _claim(mlu, _request(mlu, memory="9830Mi", name="mlu"))},
        ),
        Workload(
            "npu-inference",
            "Ascend 910B: 2000 MiB of one NPU",
            {
                "npu-share": _claim(
                    npu, _request(npu, memory="2000Mi", selectors=(_product(npu, "910B"),), name="npu")
                )
            },
        ),
    ]
