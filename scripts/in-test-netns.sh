#!/usr/bin/env bash
# Runs a command inside the network namespace made by `unshare --net`: brings up lo and a
# veth pair with test addresses (aioice never gathers loopback candidates), then execs.
set -euo pipefail
ip link set lo up
ip link add qtest0 type veth peer name qtest1
ip addr add 10.231.0.1/24 dev qtest0
ip addr add 10.231.0.2/24 dev qtest1
ip link set qtest0 up
ip link set qtest1 up
export QUIBBLE_TEST_NETNS=1
export QUIBBLE_TEST_ADDRS="10.231.0.1,10.231.0.2"
exec "$@"
