// Command alloc-oracle runs the structured allocator that kube-scheduler uses
// (k8s.io/dynamic-resource-allocation/structured) on cases read from stdin and
// prints what it decides, so that hdra's Python allocator can be compared with it.
//
// Input: one JSON object per line (a case):
//
//	{"id": "...", "gates": {"DRAConsumableCapacity": true, ...}, "node": <v1 Node>,
//	 "classes": [<DeviceClass>], "slices": [<ResourceSlice>],
//	 "allocatedClaims": [<ResourceClaim with status.allocation>], "claims": [<ResourceClaim>]}
//
// Output: one JSON object per input line, in the same order:
//
//	{"id": "...", "channel": "stable|incubating|experimental", "outcome": "allocated",
//	 "results": [<AllocationResult>]}
//	{"id": "...", "outcome": "unsatisfiable"}
//	{"id": "...", "outcome": "error", "error": "<message>", "nodeLocal": true|false}
//
// A line that cannot be decoded gives {"id": "", "outcome": "invalid", "error": "..."}; the
// process keeps reading, so one batch needs one process.
//
// Gates map to allocator features exactly as kube-scheduler does it: AllocatorFeatures in
// k8s.io/kubernetes pkg/scheduler/framework/plugins/dynamicresources/dynamicresources.go, the CEL
// cache features in New() of the same file, and the allocated state as GatherAllocatedState in
// dra_manager.go with foreachAllocatedDevice in allocateddevices.go (v1.36.3).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/dynamic-resource-allocation/cel"
	"k8s.io/dynamic-resource-allocation/structured"
	"k8s.io/utils/ptr"
)

// filterTimeout is kube-scheduler's default DRA filter timeout (DRASchedulerFilterTimeout).
const filterTimeout = 10 * time.Second

// knownGates are the feature gates the allocator path reads; any other name is an input error.
var knownGates = sets.New(
	"DRAAdminAccess",
	"DRAConsumableCapacity",
	"DRADeviceBindingConditions",
	"DRADeviceTaints",
	"DRAListTypeAttributes",
	"DRAPartitionableDevices",
	"DRAPrioritizedList",
	"DRAResourceClaimDeviceStatus",
)

type input struct {
	ID              string                      `json:"id"`
	Gates           map[string]bool             `json:"gates"`
	Node            v1.Node                     `json:"node"`
	Classes         []resourceapi.DeviceClass   `json:"classes"`
	Slices          []resourceapi.ResourceSlice `json:"slices"`
	AllocatedClaims []resourceapi.ResourceClaim `json:"allocatedClaims"`
	Claims          []resourceapi.ResourceClaim `json:"claims"`
}

type output struct {
	ID        string                         `json:"id"`
	Channel   string                         `json:"channel,omitempty"`
	Outcome   string                         `json:"outcome"`
	Results   []resourceapi.AllocationResult `json:"results,omitempty"`
	Error     string                         `json:"error,omitempty"`
	NodeLocal bool                           `json:"nodeLocal,omitempty"`
}

// classLister answers like the scheduler's informer-backed lister: NotFound for unknown names.
type classLister map[string]*resourceapi.DeviceClass

func (l classLister) List() ([]*resourceapi.DeviceClass, error) {
	names := make([]string, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	sort.Strings(names)
	classes := make([]*resourceapi.DeviceClass, 0, len(names))
	for _, name := range names {
		classes = append(classes, l[name])
	}
	return classes, nil
}

func (l classLister) Get(name string) (*resourceapi.DeviceClass, error) {
	class, found := l[name]
	if !found {
		return nil, apierrors.NewNotFound(resourceapi.Resource("deviceclasses"), name)
	}
	return class, nil
}

func main() {
	reader := bufio.NewReaderSize(os.Stdin, 1<<20)
	writer := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(writer)
	for {
		line, err := reader.ReadBytes('\n')
		if len(line) > 0 && !isBlank(line) {
			if encodeErr := encoder.Encode(runLine(line)); encodeErr != nil {
				fmt.Fprintf(os.Stderr, "alloc-oracle: write result: %v\n", encodeErr)
				os.Exit(2)
			}
			if flushErr := writer.Flush(); flushErr != nil {
				fmt.Fprintf(os.Stderr, "alloc-oracle: write result: %v\n", flushErr)
				os.Exit(2)
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "alloc-oracle: read input: %v\n", err)
			os.Exit(2)
		}
	}
}

func isBlank(line []byte) bool {
	for _, b := range line {
		if b != ' ' && b != '\n' && b != '\r' && b != '\t' {
			return false
		}
	}
	return true
}

func runLine(line []byte) output {
	var in input
	if err := json.Unmarshal(line, &in); err != nil {
		return output{Outcome: "invalid", Error: fmt.Sprintf("decode case: %v", err)}
	}
	for name := range in.Gates {
		if !knownGates.Has(name) {
			return output{ID: in.ID, Outcome: "invalid", Error: fmt.Sprintf("unknown feature gate %q", name)}
		}
	}
	return allocate(in)
}

func allocate(in input) output {
	gates := in.Gates
	features := structured.Features{
		AdminAccess:            gates["DRAAdminAccess"],
		PrioritizedList:        gates["DRAPrioritizedList"],
		PartitionableDevices:   gates["DRAPartitionableDevices"],
		DeviceTaints:           gates["DRADeviceTaints"],
		DeviceBindingAndStatus: gates["DRADeviceBindingConditions"] && gates["DRAResourceClaimDeviceStatus"],
		ConsumableCapacity:     gates["DRAConsumableCapacity"],
	}
	celCache := cel.NewCache(10, cel.Features{
		EnableConsumableCapacity: gates["DRAConsumableCapacity"],
		EnableListTypeAttributes: gates["DRAListTypeAttributes"],
	})

	lister := classLister{}
	for i := range in.Classes {
		lister[in.Classes[i].Name] = &in.Classes[i]
	}
	slices := make([]*resourceapi.ResourceSlice, len(in.Slices))
	for i := range in.Slices {
		slices[i] = &in.Slices[i]
	}
	claims := make([]*resourceapi.ResourceClaim, len(in.Claims))
	for i := range in.Claims {
		defaultClaim(&in.Claims[i])
		claims[i] = &in.Claims[i]
	}

	ctx, cancel := context.WithTimeout(context.Background(), filterTimeout)
	defer cancel()
	allocator, err := structured.NewAllocator(ctx, features, allocatedState(in.AllocatedClaims, features.ConsumableCapacity), lister, slices, celCache)
	if err != nil {
		return output{ID: in.ID, Outcome: "error", Error: err.Error()}
	}
	out := output{ID: in.ID, Channel: channelOf(allocator)}
	results, err := allocator.Allocate(ctx, &in.Node, claims)
	switch {
	case err != nil:
		out.Outcome = "error"
		out.Error = err.Error()
		out.NodeLocal = errors.Is(err, structured.ErrFailedAllocationOnNode)
	case results == nil:
		out.Outcome = "unsatisfiable"
	default:
		out.Outcome = "allocated"
		out.Results = results
	}
	return out
}

// channelOf names the implementation NewAllocator picked (stable, incubating or experimental).
// Channel() returns a string type of an internal package, so it is called through reflection.
func channelOf(allocator structured.Allocator) string {
	method := reflect.ValueOf(allocator).MethodByName("Channel")
	if !method.IsValid() {
		return ""
	}
	return method.Call(nil)[0].String()
}

// allocatedState follows GatherAllocatedState: admin-access results hold nothing; with
// DRAConsumableCapacity a result with a shareID is a share (and adds its consumed capacity),
// otherwise (and for every result when the gate is off) the device is allocated.
func allocatedState(claims []resourceapi.ResourceClaim, consumableCapacity bool) structured.AllocatedState {
	state := structured.AllocatedState{
		AllocatedDevices:         sets.New[structured.DeviceID](),
		AllocatedSharedDeviceIDs: sets.New[structured.SharedDeviceID](),
		AggregatedCapacity:       structured.NewConsumedCapacityCollection(),
	}
	for i := range claims {
		allocation := claims[i].Status.Allocation
		if allocation == nil {
			continue
		}
		for _, result := range allocation.Devices.Results {
			if ptr.Deref(result.AdminAccess, false) {
				continue
			}
			deviceID := structured.MakeDeviceID(result.Driver, result.Pool, result.Device)
			if consumableCapacity && result.ShareID != nil {
				state.AllocatedSharedDeviceIDs.Insert(structured.MakeSharedDeviceID(deviceID, result.ShareID))
				if result.ConsumedCapacity != nil {
					state.AggregatedCapacity.Insert(structured.NewDeviceConsumedCapacity(deviceID, result.ConsumedCapacity))
				}
				continue
			}
			state.AllocatedDevices.Insert(deviceID)
		}
	}
	return state
}

// defaultClaim applies what the API server's defaulting does to a stored claim's requests
// (SetDefaults_ExactDeviceRequest and SetDefaults_DeviceSubRequest in k8s.io/kubernetes
// pkg/apis/resource/v1/defaults.go): allocationMode ExactCount, and count 1 in that mode.
func defaultClaim(claim *resourceapi.ResourceClaim) {
	for i := range claim.Spec.Devices.Requests {
		request := &claim.Spec.Devices.Requests[i]
		if request.Exactly != nil {
			defaultMode(&request.Exactly.AllocationMode, &request.Exactly.Count)
		}
		for j := range request.FirstAvailable {
			defaultMode(&request.FirstAvailable[j].AllocationMode, &request.FirstAvailable[j].Count)
		}
	}
}

func defaultMode(mode *resourceapi.DeviceAllocationMode, count *int64) {
	if *mode == "" {
		*mode = resourceapi.DeviceAllocationModeExactCount
	}
	if *mode == resourceapi.DeviceAllocationModeExactCount && *count == 0 {
		*count = 1
	}
}
