// Package e2e holds isaplay's end-to-end fault-tolerance tests: the real isaplay binary, run as a
// subprocess, against real sshd test nodes (inventory/testcluster) holding copies of real WSO2
// product files. The tests prove that plans and applies are exact, that failures, crashes, dead
// and hung nodes are rolled back to byte-identical trees, and that host locks and host keys
// protect the nodes. The package has no non-test code.
package e2e
