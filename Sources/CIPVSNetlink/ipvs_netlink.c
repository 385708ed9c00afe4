// placeholder: replaced by the netlink shim
