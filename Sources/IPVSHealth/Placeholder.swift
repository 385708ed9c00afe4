import IPVS
import IPVSAdm
// The health checker daemon's engine (health-daemon replaces this file).
