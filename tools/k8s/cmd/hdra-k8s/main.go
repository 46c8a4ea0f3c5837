// Command hdra-k8s is one multi-call binary holding a real Kubernetes control plane for hdra's
// tests: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, built from the
// upstream Go modules pinned in ../../go.mod. It is test support (dra_driver/realcluster starts
// it), never part of what hdra ships.
//
// The component is chosen by the first argument (`hdra-k8s kube-apiserver --flags...`) or, when
// the binary is invoked through a link of that name, by argv[0]. Every flag after the component
// name goes unchanged to the upstream command, so each behaves exactly like its own release
// binary.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // as upstream's mains: time zones for CronJob

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream's mains
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream's mains
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream's mains
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// cobraComponents are the Kubernetes components: each builds its upstream cobra command.
var cobraComponents = map[string]func() *cobra.Command{
	"kube-apiserver":          func() *cobra.Command { return apiserver.NewAPIServerCommand() },
	"kube-controller-manager": func() *cobra.Command { return controllermanager.NewControllerManagerCommand() },
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func names() []string {
	out := []string{"etcd"}
	for name := range cobraComponents {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func main() {
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	if name != "etcd" && cobraComponents[name] == nil {
		if len(args) == 0 {
			fmt.Fprintf(os.Stderr, "usage: hdra-k8s COMPONENT [FLAGS...]; COMPONENT is one of %v\n", names())
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	if name == "etcd" {
		// etcdmain.Main parses args[1:], like os.Args.
		etcdmain.Main(append([]string{"etcd"}, args...))
		return
	}
	build := cobraComponents[name]
	if build == nil {
		fmt.Fprintf(os.Stderr, "hdra-k8s: unknown component %q; one of %v\n", name, names())
		os.Exit(2)
	}
	command := build()
	command.SetArgs(args)
	os.Exit(cli.Run(command))
}
