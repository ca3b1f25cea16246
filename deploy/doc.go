// Package deploy holds edgeplay's deployment files (docker-compose.yml, k8s/, grafana/) and the
// tests that check them statically against the binary's flags and metrics: see README.md.
package deploy
