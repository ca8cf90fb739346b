// Package deploy holds no code: its tests check the deployment material
// beside it against the code it deploys. deploy/grafana/edgeplane.json may
// query only metrics a running gateway exports, with the labels it exports;
// deploy/arm64's packaged config must validate, and its paths must agree
// with the systemd unit and the .deb description.
//
// Files: arm64/ (systemd unit, install.sh, nfpm .deb, Containerfile,
// README), grafana/ (the dashboard).
package deploy
