"""build_hami_core_edits: PCI-ordered limits, no interception for whole cards, options, visibility, mock."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dra_driver.cdi import CdiDevice, build_spec, cdi_kind, device_name
from dra_driver.interception import (
    CONTAINER_CACHE_DIR,
    CONTAINER_LIBRARY_PATH,
    CONTAINER_LOCK_DIR,
    CONTAINER_PRELOAD_PATH,
    DeviceLimit,
    HamiCoreOptions,
    InterceptionError,
    InterceptionSettings,
    build_hami_core_edits,
)
from tests.interception.cards import CLAIM_UID, card

SETTINGS = InterceptionSettings(
    host_library_dir=Path("/opt/hdra-lib"), state_dir=Path("/srv/hdra"), lock_dir=Path("/run/vgpulock")
)
AUTO = HamiCoreOptions()

# Index order and PCI order disagree on purpose: gpu-0 sits on bus 0x81, gpu-2 on 0x07.
CARDS = [card(0, "00000000:81:00.0"), card(1, "0000:3B:00.0"), card(2, "00000000:07:00.0")]
LIMITS = [DeviceLimit(CARDS[0], 1000, 10), DeviceLimit(CARDS[1], 2000, 20), DeviceLimit(CARDS[2], 3000, 30)]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_indices_follow_pci_order_whatever_the_input_order(order: tuple[int, ...]) -> None:
    result = build_hami_core_edits(CLAIM_UID, [LIMITS[i] for i in order], AUTO, SETTINGS, with_library=True)
    assert result.intercepted
    assert result.device_order == ("gpu-2", "gpu-1", "gpu-0")
    env = result.env
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert [env[f"CUDA_DEVICE_MEMORY_LIMIT_{i}"] for i in range(3)] == ["3000m", "2000m", "1000m"]
    assert [env[f"CUDA_DEVICE_SM_LIMIT_{i}"] for i in range(3)] == ["30", "20", "10"]
    assert "CUDA_DEVICE_MEMORY_LIMIT_3" not in env
    assert env["NVIDIA_VISIBLE_DEVICES"] == ",".join(CARDS[i].uuid for i in (2, 1, 0))
    assert result.edits.env == tuple(f"{key}={value}" for key, value in env.items())


def test_cards_without_pci_ids_sort_by_index_after_those_with() -> None:
    cards = [card(3, None), card(1, None), card(0, "0000:90:00.0")]
    result = build_hami_core_edits(
        CLAIM_UID, [DeviceLimit(c, 100) for c in cards], AUTO, SETTINGS, with_library=True
    )
    assert result.device_order == ("gpu-0", "gpu-1", "gpu-3")


def test_mounts_and_cache_for_an_intercepted_claim() -> None:
    result = build_hami_core_edits(CLAIM_UID, LIMITS[:1], AUTO, SETTINGS, with_library=True)
    mounts = {(m.host_path, m.container_path): m.options for m in result.edits.mounts}
    cache_dir = f"/srv/hdra/claims/{CLAIM_UID}"
    assert mounts == {
        ("/opt/hdra-lib/ld.so.preload", CONTAINER_PRELOAD_PATH): ("ro", "nosuid", "nodev", "bind"),
        ("/opt/hdra-lib/libvgpu.so", CONTAINER_LIBRARY_PATH): ("ro", "nosuid", "nodev", "bind"),
        # Read-only and empty until the createContainer hook binds the container's own region dir.
        (f"{cache_dir}/.unattached", CONTAINER_CACHE_DIR): ("ro", "nosuid", "nodev", "bind"),
        ("/run/vgpulock", CONTAINER_LOCK_DIR): ("rw", "nosuid", "nodev", "bind"),
    }
    assert result.cache_dir == Path(cache_dir)
    assert result.env["CUDA_DEVICE_MEMORY_SHARED_CACHE"].startswith(CONTAINER_CACHE_DIR + "/")
    assert result.cdi_device_ids == ()


def test_an_intercepted_claim_runs_the_region_hooks_with_the_hosts_python() -> None:
    settings = InterceptionSettings(
        host_library_dir=Path("/opt/hdra-lib"),
        state_dir=Path("/srv/hdra"),
        hook_python=Path("/opt/py/bin/python3"),
    )
    result = build_hami_core_edits(CLAIM_UID, LIMITS[:1], AUTO, settings, with_library=True)
    cache_dir = f"/srv/hdra/claims/{CLAIM_UID}"
    hook = ("/opt/py/bin/python3", "-I", "-S", "/opt/hdra-lib/hdra-cdi-hook.py")
    assert [(h.hook_name, h.path, h.args) for h in result.edits.hooks] == [
        (
            "createContainer",
            "/opt/py/bin/python3",
            (*hook, "attach", "--claim-dir", cache_dir, "--container-path", CONTAINER_CACHE_DIR),
        ),
        ("poststop", "/opt/py/bin/python3", (*hook, "release", "--claim-dir", cache_dir)),
    ]
    assert all(h.timeout == 30 for h in result.edits.hooks)


def test_whole_cards_and_enforcement_none_get_no_hooks() -> None:
    whole = build_hami_core_edits(CLAIM_UID, [DeviceLimit(CARDS[0])], AUTO, SETTINGS, with_library=True)
    off = build_hami_core_edits(
        CLAIM_UID, LIMITS, HamiCoreOptions(enforcement="none"), SETTINGS, with_library=True
    )
    assert whole.edits.hooks == off.edits.hooks == ()


def test_mock_gets_the_same_env_without_the_library() -> None:
    real = build_hami_core_edits(CLAIM_UID, LIMITS, AUTO, SETTINGS, with_library=True)
    mock = build_hami_core_edits(CLAIM_UID, LIMITS, AUTO, SETTINGS, with_library=False)
    assert mock.env == real.env
    assert mock.edits.env == real.edits.env
    container_paths = {m.container_path for m in mock.edits.mounts}
    assert container_paths == {CONTAINER_CACHE_DIR, CONTAINER_LOCK_DIR}
    assert mock.intercepted


@pytest.mark.parametrize(
    "limits",
    [
        [DeviceLimit(CARDS[0])],
        [DeviceLimit(CARDS[0], CARDS[0].memory_mib, 100), DeviceLimit(CARDS[1], None, 0)],
        [DeviceLimit(CARDS[2], None, None)],
    ],
)
def test_whole_cards_get_no_interception(limits: list[DeviceLimit]) -> None:
    result = build_hami_core_edits(
        CLAIM_UID, limits, HamiCoreOptions(priority="high"), SETTINGS, with_library=True
    )
    assert not result.intercepted
    assert result.cache_dir is None
    assert result.edits.mounts == ()
    assert list(result.env) == ["NVIDIA_VISIBLE_DEVICES"]


def test_enforcement_none_turns_interception_off() -> None:
    result = build_hami_core_edits(
        CLAIM_UID, LIMITS, HamiCoreOptions(enforcement="none"), SETTINGS, with_library=True
    )
    assert not result.intercepted
    assert result.edits.mounts == ()
    assert not any(key.startswith("CUDA_") for key in result.env)


def test_one_partial_card_intercepts_the_whole_claim_with_full_values_for_the_rest() -> None:
    limits = [DeviceLimit(CARDS[0]), DeviceLimit(CARDS[2], None, 50)]
    result = build_hami_core_edits(CLAIM_UID, limits, AUTO, SETTINGS, with_library=True)
    assert result.intercepted
    assert result.env["CUDA_DEVICE_MEMORY_LIMIT_0"] == f"{CARDS[2].memory_mib}m"
    assert result.env["CUDA_DEVICE_SM_LIMIT_0"] == "50"
    assert result.env["CUDA_DEVICE_MEMORY_LIMIT_1"] == f"{CARDS[0].memory_mib}m"
    assert result.env["CUDA_DEVICE_SM_LIMIT_1"] == "100"


def test_options_become_env() -> None:
    options = HamiCoreOptions(core_policy="force", priority="high", log_level=3)
    env = build_hami_core_edits(CLAIM_UID, LIMITS, options, SETTINGS, with_library=True).env
    assert env["GPU_CORE_UTILIZATION_POLICY"] == "force"
    assert env["CUDA_TASK_PRIORITY"] == "0"
    assert env["LIBCUDA_LOG_LEVEL"] == "3"
    low = build_hami_core_edits(
        CLAIM_UID, LIMITS, HamiCoreOptions(priority="low"), SETTINGS, with_library=True
    )
    assert low.env["CUDA_TASK_PRIORITY"] == "1"
    unset = build_hami_core_edits(CLAIM_UID, LIMITS, AUTO, SETTINGS, with_library=True).env
    assert not {"GPU_CORE_UTILIZATION_POLICY", "CUDA_TASK_PRIORITY", "LIBCUDA_LOG_LEVEL"} & set(unset)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"core_policy": "sometimes"}, "core_policy='sometimes'"),
        ({"priority": "urgent"}, "priority='urgent'"),
        ({"enforcement": "strict"}, "enforcement='strict'"),
        ({"log_level": 5}, "log_level=5"),
        ({"log_level": True}, "log_level=True"),
    ],
)
def test_bad_options_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InterceptionError, match=message):
        HamiCoreOptions(**kwargs)  # type: ignore[arg-type]


def test_visibility_cdi_returns_toolkit_ids_instead_of_env() -> None:
    settings = InterceptionSettings(visibility="cdi")
    result = build_hami_core_edits(CLAIM_UID, LIMITS, AUTO, settings, with_library=True)
    assert result.cdi_device_ids == tuple(f"nvidia.com/gpu={CARDS[i].uuid}" for i in (2, 1, 0))
    assert "NVIDIA_VISIBLE_DEVICES" not in result.env
    whole = build_hami_core_edits(CLAIM_UID, [DeviceLimit(CARDS[0])], AUTO, settings, with_library=True)
    assert whole.edits.is_empty()
    assert whole.cdi_device_ids == (f"nvidia.com/gpu={CARDS[0].uuid}",)


def test_two_shares_of_one_card_are_one_cuda_device() -> None:
    limits = [
        DeviceLimit(CARDS[1], 1000, 20),
        DeviceLimit(CARDS[0], 500, None),
        DeviceLimit(CARDS[1], 2000, 30),
    ]
    result = build_hami_core_edits(CLAIM_UID, limits, AUTO, SETTINGS, with_library=True)
    assert result.device_order == ("gpu-1", "gpu-0")
    assert result.env["CUDA_DEVICE_MEMORY_LIMIT_0"] == "3000m"
    assert result.env["CUDA_DEVICE_SM_LIMIT_0"] == "50"
    assert result.env["CUDA_DEVICE_SM_LIMIT_1"] == "100"
    too_much = [DeviceLimit(CARDS[1], None, 60), DeviceLimit(CARDS[1], None, 60)]
    with pytest.raises(InterceptionError, match="two shares of device gpu-1"):
        build_hami_core_edits(CLAIM_UID, too_much, AUTO, SETTINGS, with_library=True)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DeviceLimit(CARDS[0], 0), "memory limit 0 MiB for device gpu-0"),
        (lambda: DeviceLimit(CARDS[0], 10**6), "exceeds its 40960 MiB"),
        (lambda: DeviceLimit(CARDS[0], None, 101), "cores limit 101 % for device gpu-0"),
        (lambda: DeviceLimit(CARDS[0], None, -1), "cores limit -1"),
    ],
)
def test_bad_limits_name_the_device(make: object, message: str) -> None:
    with pytest.raises(InterceptionError, match=message):
        make()  # type: ignore[operator]


def test_bad_inputs_name_the_cause() -> None:
    with pytest.raises(InterceptionError, match="not a UUID"):
        build_hami_core_edits("../x", LIMITS, AUTO, SETTINGS, with_library=True)
    with pytest.raises(InterceptionError, match="has no devices"):
        build_hami_core_edits(CLAIM_UID, [], AUTO, SETTINGS, with_library=True)
    bad_pci = [DeviceLimit(card(5, "bus-five"), 100)]
    with pytest.raises(InterceptionError, match="device gpu-5 has a malformed PCI bus id 'bus-five'"):
        build_hami_core_edits(CLAIM_UID, bad_pci, AUTO, SETTINGS, with_library=True)
    with pytest.raises(InterceptionError, match="state_dir"):
        InterceptionSettings(state_dir=Path("relative"))
    with pytest.raises(InterceptionError, match="visibility='both'"):
        InterceptionSettings(visibility="both")  # type: ignore[arg-type]


def test_edits_make_a_valid_cdi_spec_of_minimum_version() -> None:
    result = build_hami_core_edits(CLAIM_UID, LIMITS, AUTO, SETTINGS, with_library=True)
    spec = build_spec(
        cdi_kind("nvidia"), [CdiDevice(name=device_name(CLAIM_UID, "claim"), container_edits=result.edits)]
    )
    assert spec.cdi_version == "0.5.0"  # the claim UID starts with a digit; nothing needs more
