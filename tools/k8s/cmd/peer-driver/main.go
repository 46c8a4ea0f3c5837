// Command peer-driver is the Go DRA node plugin hdra's prepare benchmark compares itself with.
//
// It is built the way every Go DRA driver is: on the kubelet-plugin helper of
// k8s.io/dynamic-resource-allocation/kubeletplugin (registration socket, DRA v1 and v1beta1
// services, the claim GET through client-go before the driver is called), and it does per claim
// what kubernetes-sigs/dra-example-driver's DeviceState.Prepare does: under one node-wide mutex,
// read the checkpoint file, return the recorded devices when the claim is already prepared,
// otherwise write the claim's CDI spec (temp file and rename, as the CDI library's spec writer
// does: no fsync) and rewrite the checkpoint through the kubelet's checkpointmanager (temp file,
// fsync, rename). Unprepare reads the checkpoint, removes the spec and rewrites the checkpoint.
//
// client-go's default client-side rate limit (5 requests/s, bursts of 10), which
// dra-example-driver keeps as its --kube-api-qps/--kube-api-burst defaults, would measure the
// limiter instead of the driver; --kube-api-qps and --kube-api-burst set it (the benchmark lifts it).
//
// It prepares only results of its own driver name, one CDI device per result, with an env edit
// naming the device, so the work per claim matches hdra's mock backend without HAMi-core. It
// must never be used for anything but measurement: it publishes no ResourceSlices and enforces
// nothing.
//
// Usage:
//
//	peer-driver --kubeconfig FILE --driver-name NAME --node-name NODE \
//	  --plugin-dir DIR --registry-dir DIR --cdi-dir DIR --state-dir DIR \
//	  [--kube-api-qps 5 --kube-api-burst 10]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/checkpointmanager"
	"k8s.io/kubernetes/pkg/kubelet/checkpointmanager/checksum"
)

const (
	checkpointFile = "checkpoint.json"
	cdiVendor      = "k8s.peer.hdra.io"
	cdiClass       = "device"
	cdiVersion     = "0.6.0"
)

// preparedDevice is what the checkpoint keeps per allocation result.
type preparedDevice struct {
	Requests     []string `json:"requests"`
	PoolName     string   `json:"poolName"`
	DeviceName   string   `json:"deviceName"`
	CDIDeviceIDs []string `json:"cdiDeviceIDs"`
	ShareID      string   `json:"shareID,omitempty"`
}

type checkpointData struct {
	PreparedClaims map[string][]preparedDevice `json:"preparedClaims"`
}

// checkpoint implements checkpointmanager.Checkpoint with the kubelet's checksum.
type checkpoint struct {
	Checksum checksum.Checksum `json:"checksum"`
	V1       *checkpointData   `json:"v1,omitempty"`
}

func newCheckpoint() *checkpoint {
	return &checkpoint{V1: &checkpointData{PreparedClaims: map[string][]preparedDevice{}}}
}

func (c *checkpoint) MarshalCheckpoint() ([]byte, error) {
	c.Checksum = 0
	c.Checksum = checksum.New(c)
	return json.Marshal(c)
}

func (c *checkpoint) UnmarshalCheckpoint(data []byte) error {
	return json.Unmarshal(data, c)
}

func (c *checkpoint) VerifyChecksum() error {
	stored := c.Checksum
	c.Checksum = 0
	err := stored.Verify(c)
	c.Checksum = stored
	return err
}

// cdiSpec is the part of the CDI spec format this driver writes.
type cdiSpec struct {
	Version string      `json:"cdiVersion"`
	Kind    string      `json:"kind"`
	Devices []cdiDevice `json:"devices"`
}

type cdiDevice struct {
	Name           string         `json:"name"`
	ContainerEdits containerEdits `json:"containerEdits"`
}

type containerEdits struct {
	Env []string `json:"env,omitempty"`
}

type driver struct {
	name    string
	cdiDir  string
	mu      sync.Mutex
	manager checkpointmanager.CheckpointManager
}

func (d *driver) specPath(uid string) string {
	return filepath.Join(d.cdiDir, fmt.Sprintf("%s-%s_%s.json", cdiVendor, cdiClass, uid))
}

// writeSpec writes the claim's spec like the CDI library's Spec.write: temp file, close, rename.
func (d *driver) writeSpec(uid string, spec *cdiSpec) error {
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(d.cdiDir, "spec.*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), d.specPath(uid))
}

func (d *driver) prepare(claim *resourceapi.ResourceClaim) ([]preparedDevice, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	uid := string(claim.UID)
	cp := newCheckpoint()
	if err := d.manager.GetCheckpoint(checkpointFile, cp); err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if done, ok := cp.V1.PreparedClaims[uid]; ok {
		return done, nil
	}
	if claim.Status.Allocation == nil {
		return nil, errors.New("claim is not allocated")
	}
	spec := &cdiSpec{Version: cdiVersion, Kind: cdiVendor + "/" + cdiClass}
	var devices []preparedDevice
	for _, result := range claim.Status.Allocation.Devices.Results {
		if result.Driver != d.name {
			continue
		}
		name := uid + "-" + result.Device
		variable := "PEER_DEVICE_" + strings.ToUpper(strings.ReplaceAll(result.Device, "-", "_"))
		spec.Devices = append(spec.Devices, cdiDevice{
			Name:           name,
			ContainerEdits: containerEdits{Env: []string{variable + "=" + result.Device}},
		})
		device := preparedDevice{
			Requests:     []string{result.Request},
			PoolName:     result.Pool,
			DeviceName:   result.Device,
			CDIDeviceIDs: []string{spec.Kind + "=" + name},
		}
		if result.ShareID != nil {
			device.ShareID = string(*result.ShareID)
		}
		devices = append(devices, device)
	}
	if len(devices) == 0 {
		return nil, fmt.Errorf("the allocation has no device of driver %s", d.name)
	}
	if err := d.writeSpec(uid, spec); err != nil {
		return nil, fmt.Errorf("write CDI spec: %w", err)
	}
	cp.V1.PreparedClaims[uid] = devices
	if err := d.manager.CreateCheckpoint(checkpointFile, cp); err != nil {
		return nil, fmt.Errorf("write checkpoint: %w", err)
	}
	return devices, nil
}

func (d *driver) unprepare(uid string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cp := newCheckpoint()
	if err := d.manager.GetCheckpoint(checkpointFile, cp); err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	if _, ok := cp.V1.PreparedClaims[uid]; !ok {
		return nil
	}
	if err := os.Remove(d.specPath(uid)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove CDI spec: %w", err)
	}
	delete(cp.V1.PreparedClaims, uid)
	if err := d.manager.CreateCheckpoint(checkpointFile, cp); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// PrepareResourceClaims implements kubeletplugin.DRAPlugin.
func (d *driver) PrepareResourceClaims(
	_ context.Context, claims []*resourceapi.ResourceClaim,
) (map[types.UID]kubeletplugin.PrepareResult, error) {
	result := make(map[types.UID]kubeletplugin.PrepareResult, len(claims))
	for _, claim := range claims {
		devices, err := d.prepare(claim)
		if err != nil {
			result[claim.UID] = kubeletplugin.PrepareResult{Err: fmt.Errorf("claim %s: %w", claim.UID, err)}
			continue
		}
		var out []kubeletplugin.Device
		for _, device := range devices {
			converted := kubeletplugin.Device{
				Requests:     device.Requests,
				PoolName:     device.PoolName,
				DeviceName:   device.DeviceName,
				CDIDeviceIDs: device.CDIDeviceIDs,
			}
			if device.ShareID != "" {
				share := types.UID(device.ShareID)
				converted.ShareID = &share
			}
			out = append(out, converted)
		}
		result[claim.UID] = kubeletplugin.PrepareResult{Devices: out}
	}
	return result, nil
}

// UnprepareResourceClaims implements kubeletplugin.DRAPlugin.
func (d *driver) UnprepareResourceClaims(
	_ context.Context, claims []kubeletplugin.NamespacedObject,
) (map[types.UID]error, error) {
	result := make(map[types.UID]error, len(claims))
	for _, claim := range claims {
		result[claim.UID] = d.unprepare(string(claim.UID))
	}
	return result, nil
}

// HandleError implements kubeletplugin.DRAPlugin.
func (d *driver) HandleError(ctx context.Context, err error, msg string) {
	klog.FromContext(ctx).Error(err, msg)
}

func main() {
	var kubeconfig, name, node, pluginDir, registryDir, cdiDir, stateDir string
	var qps float64
	var burst int
	flag.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server")
	flag.StringVar(&name, "driver-name", "peer.hdra.io", "DRA driver name")
	flag.StringVar(&node, "node-name", "", "node name")
	flag.StringVar(&pluginDir, "plugin-dir", "", "directory of the DRA socket")
	flag.StringVar(&registryDir, "registry-dir", "", "kubelet plugin registry directory")
	flag.StringVar(&cdiDir, "cdi-dir", "", "CDI spec directory")
	flag.StringVar(&stateDir, "state-dir", "", "checkpoint directory")
	flag.Float64Var(&qps, "kube-api-qps", 5, "client-side rate limit of API requests per second")
	flag.IntVar(&burst, "kube-api-burst", 10, "client-side burst of API requests")
	flag.Parse()
	if err := run(kubeconfig, name, node, pluginDir, registryDir, cdiDir, stateDir, qps, burst); err != nil {
		fmt.Fprintf(os.Stderr, "peer-driver: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig, name, node, pluginDir, registryDir, cdiDir, stateDir string, qps float64, burst int) error {
	for flagName, value := range map[string]string{
		"kubeconfig": kubeconfig, "node-name": node, "plugin-dir": pluginDir,
		"registry-dir": registryDir, "cdi-dir": cdiDir, "state-dir": stateDir,
	} {
		if value == "" {
			return fmt.Errorf("--%s is required", flagName)
		}
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	config.QPS, config.Burst = float32(qps), burst
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	for _, dir := range []string{pluginDir, registryDir, cdiDir, stateDir} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
	}
	manager, err := checkpointmanager.NewCheckpointManager(stateDir)
	if err != nil {
		return fmt.Errorf("checkpoint manager: %w", err)
	}
	if err := manager.CreateCheckpoint(checkpointFile, newCheckpoint()); err != nil {
		return fmt.Errorf("initial checkpoint: %w", err)
	}
	d := &driver{name: name, cdiDir: cdiDir, manager: manager}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	helper, err := kubeletplugin.Start(ctx, d,
		kubeletplugin.KubeClient(client),
		kubeletplugin.DriverName(name),
		kubeletplugin.NodeName(node),
		kubeletplugin.PluginDataDirectoryPath(pluginDir),
		kubeletplugin.RegistrarDirectoryPath(registryDir),
	)
	if err != nil {
		return fmt.Errorf("start kubelet plugin helper: %w", err)
	}
	<-ctx.Done()
	helper.Stop()
	return nil
}
