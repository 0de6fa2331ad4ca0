"""A real local cluster for the test bed: etcd, kube-apiserver, kube-controller-manager and
cert-manager, built from pinned Go modules and started on loopback."""
