// Headers of libnl-3 used by the C shim (CIPVSNetlink). Swift code never imports this.
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
