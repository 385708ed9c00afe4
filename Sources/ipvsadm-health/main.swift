import IPVSHealth
// ipvsadm-health (health-daemon replaces this file).
