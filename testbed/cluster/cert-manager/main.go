// Command cert-manager-controller runs cert-manager's own controllers, pinned
// by this module's go.mod, for the real-cluster test bed.
//
// Why a main of our own: upstream's cmd/controller is a separate Go module
// (github.com/cert-manager/cert-manager/controller-binary) that the module
// proxy does not serve. The controllers themselves live in the main module's
// pkg/controller/... packages and register themselves with
// controllerpkg.Register from their init functions, exactly as upstream's
// cmd/controller/app relies on; so this file only blank-imports the ones the
// test bed needs and reproduces upstream's start-up sequence (context factory,
// construct the controllers, start the shared informers, run the loops).
//
// The ingress-shim is in: an Ingress annotated cert-manager.io/issuer gets a
// Certificate per spec.tls entry, the path acm-sync's acmsync.io/import builds
// on. Left out on purpose (fewer moving parts; none is needed to issue from
// SelfSigned/CA issuers): ACME, Vault, Venafi, the gateway shims, the
// CertificateSigningRequest controllers, the certificates-metrics controller,
// and the metrics/healthz/profiling listeners (nothing is served on any port).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// Each import registers its controller (init -> controllerpkg.Register).
	// Certificate lifecycle: trigger -> keymanager -> requestmanager ->
	// (approver, signer) -> issuing (writes the Secret) -> readiness; the
	// revisionmanager prunes old CertificateRequests.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	// Ingress -> Certificate (cert-manager.io/issuer and friends on an Ingress).
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	// CertificateRequests must be Approved before any signer acts on them;
	// upstream's default approver approves those that name cert-manager.io issuers.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	// Issuer/ClusterIssuer controllers set the Ready condition; they look up
	// the issuer implementation (init -> issuer.RegisterIssuer) by type, so
	// the SelfSigned and CA issuer packages are imported too.
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

func main() {
	// Defaults below are upstream's (internal/apis/config/controller/v1alpha1),
	// except --cluster-resource-namespace (upstream: kube-system; the Helm
	// chart sets the release namespace, i.e. cert-manager).
	var (
		kubeconfig      = flag.String("kubeconfig", "", "kubeconfig file; empty means in-cluster config")
		master          = flag.String("master", "", "API server URL, overriding the kubeconfig's")
		namespace       = flag.String("namespace", "", "only watch this namespace (empty: all namespaces)")
		clusterResNS    = flag.String("cluster-resource-namespace", "cert-manager", "namespace holding the Secrets that ClusterIssuers refer to")
		leaderElect     = flag.Bool("leader-elect", false, "use leader election (Lease cert-manager-controller)")
		leaderElectNS   = flag.String("leader-election-namespace", "kube-system", "namespace of the leader election Lease")
		controllers     = flag.String("controllers", "*", "comma-separated controllers to run; '*' runs every controller compiled in, '-name' disables one")
		workers         = flag.Int("concurrent-workers", 5, "workers per controller")
		qps             = flag.Float64("kube-api-qps", 20, "client QPS when API Priority and Fairness is off")
		burst           = flag.Int("kube-api-burst", 50, "client burst when API Priority and Fairness is off")
		minBackoff      = flag.Duration("certificate-request-minimum-backoff-duration", time.Hour, "first back-off after a failed issuance")
		maxBackoff      = flag.Duration("certificate-request-maximum-backoff-duration", 32*time.Hour, "longest back-off after failed issuances")
		ownerRef        = flag.Bool("enable-certificate-owner-ref", false, "make the Certificate the owner of its Secret")
		copiedPrefixes  = flag.String("copied-annotation-prefixes", "*,-kubectl.kubernetes.io/,-fluxcd.io/,-argocd.argoproj.io/", "Certificate annotations copied to CertificateRequests")
		featureGates    = flag.String("feature-gates", "", "cert-manager feature gates, e.g. Foo=true,Bar=false")
		listControllers = flag.Bool("list-controllers", false, "print the controllers compiled in and exit")
	)
	klog.InitFlags(nil) // -v, -logtostderr, ...: cert-manager logs through klog
	flag.Parse()

	known := controllerpkg.Known()
	if *listControllers {
		names := make([]string, 0, len(known))
		for n := range known {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, "\n"))
		return
	}
	if *featureGates != "" {
		if err := utilfeature.DefaultMutableFeatureGate.Set(*featureGates); err != nil {
			fatal("invalid --feature-gates: %v", err)
		}
	}
	enabled, err := enabledControllers(*controllers, known)
	if err != nil {
		fatal("%v", err)
	}
	// Upstream skips the ClusterIssuer controller when scoped to one namespace.
	if *namespace != "" {
		enabled.Delete(clusterissuers.ControllerName)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	log := logf.FromContext(ctx)

	opts := controllerpkg.ContextOptions{
		APIServerHost:      *master,
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   float32(*qps),
		KubernetesAPIBurst: *burst,
		Namespace:          *namespace,
		IssuerOptions: controllerpkg.IssuerOptions{
			ClusterResourceNamespace:        *clusterResNS,
			ClusterIssuerAmbientCredentials: true, // upstream default; unused by SelfSigned/CA
		},
		CertificateOptions: controllerpkg.CertificateOptions{
			EnableOwnerRef:                           *ownerRef,
			CopiedAnnotationPrefixes:                 splitList(*copiedPrefixes),
			CertificateRequestMinimumBackoffDuration: *minBackoff,
			CertificateRequestMaximumBackoffDuration: *maxBackoff,
		},
		// Upstream's defaults: no default issuer, kubernetes.io/tls-acme opts in.
		IngressShimOptions: controllerpkg.IngressShimOptions{
			DefaultIssuerKind:                 "Issuer",
			DefaultIssuerGroup:                "cert-manager.io",
			DefaultAutoCertificateAnnotations: []string{"kubernetes.io/tls-acme"},
		},
		SchedulerOptions: controllerpkg.SchedulerOptions{MaxConcurrentChallenges: 60},
	}
	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		fatal("building controller context: %v", err)
	}

	run := func(ctx context.Context) {
		// Constructing a controller registers its informers with the shared
		// factories, so every controller is built before the factories start.
		loops := map[string]controllerpkg.Interface{}
		for _, n := range sets.List(enabled) {
			iface, err := known[n](factory)
			if err != nil {
				fatal("constructing controller %s: %v", n, err)
			}
			loops[n] = iface
		}
		base, err := factory.Build()
		if err != nil {
			fatal("building controller context: %v", err)
		}
		base.KubeSharedInformerFactory.Start(ctx.Done())
		base.SharedInformerFactory.Start(ctx.Done())
		base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())

		var wg sync.WaitGroup
		for n, loop := range loops {
			log.Info("starting controller", "controller", n)
			wg.Go(func() {
				if err := loop.Run(*workers, ctx); err != nil {
					fatal("controller %s: %v", n, err)
				}
			})
		}
		wg.Wait()
		log.Info("control loops exited")
	}

	if !*leaderElect {
		run(ctx)
		return
	}
	// Same Lease name as upstream, so two controllers never both act.
	restCfg, err := kubeRESTConfig(*master, *kubeconfig)
	if err != nil {
		fatal("%v", err)
	}
	client, err := kubernetes.NewForConfig(util.RestConfigWithUserAgent(restCfg, "leader-election"))
	if err != nil {
		fatal("leader election client: %v", err)
	}
	host, _ := os.Hostname()
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, *leaderElectNS, "cert-manager-controller",
		client.CoreV1(), client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: fmt.Sprintf("%s-%d-external-cert-manager-controller", host, os.Getpid())})
	if err != nil {
		fatal("leader election lock: %v", err)
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   60 * time.Second, // upstream defaults
		RenewDeadline:   40 * time.Second,
		RetryPeriod:     15 * time.Second,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: run,
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					fatal("leader election lost")
				}
			},
		},
	})
}

// enabledControllers resolves upstream's --controllers syntax ("*", "name",
// "-name") against the controllers compiled into this binary.
func enabledControllers(spec string, known map[string]controllerpkg.Constructor) (sets.Set[string], error) {
	enabled := sets.New[string]()
	for _, item := range splitList(spec) {
		switch {
		case item == "*":
			for n := range known {
				enabled.Insert(n)
			}
		case strings.HasPrefix(item, "-"):
			enabled.Delete(item[1:])
		default:
			if _, ok := known[item]; !ok {
				return nil, fmt.Errorf("unknown controller %q (see --list-controllers)", item)
			}
			enabled.Insert(item)
		}
	}
	if enabled.Len() == 0 {
		return nil, fmt.Errorf("no controllers enabled")
	}
	return enabled, nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func kubeRESTConfig(master, kubeconfig string) (*rest.Config, error) {
	if master == "" && kubeconfig == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags(master, kubeconfig)
}

func fatal(format string, args ...any) {
	klog.Flush()
	fmt.Fprintf(os.Stderr, "cert-manager-controller: "+format+"\n", args...)
	os.Exit(1)
}
