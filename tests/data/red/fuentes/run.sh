#!/bin/sh
# How tests/data/red/*.cfg were made: a throwaway FRR 8.4 in netns pkr-cumpl (pathspace
# pkr-cumpl), zebra+staticd+bgpd (HQ: bgpd -Z -n alone), config applied with vtysh -b, then
# show running-config from inside its UTS namespace. Usage: run.sh CONF OUT HOSTNAME [bgpd]
# run.sh CONF OUT HOST [bgpd-only]
conf=$1; out=$2; host=$3
for p in /var/run/frr/pkr-cumpl/*.pid; do [ -f $p ] && kill $(cat $p) 2>/dev/null; done; sleep 0.7
rm -f /var/run/frr/pkr-cumpl/*
cp $conf /etc/frr/pkr-cumpl/frr.conf; chown frr:frr /etc/frr/pkr-cumpl/frr.conf
if [ -n "$4" ]; then
ip netns exec pkr-cumpl unshare -u sh -c "hostname $host; /usr/lib/frr/bgpd -N pkr-cumpl -Z -n -d 2>&1 | grep -v MPLS; sleep 0.5; vtysh -N pkr-cumpl -b >/dev/null"
pid=$(cat /var/run/frr/pkr-cumpl/bgpd.pid)
else
ip netns exec pkr-cumpl unshare -u sh -c "hostname $host; for d in zebra staticd bgpd; do /usr/lib/frr/\$d -N pkr-cumpl -d 2>&1 | grep -v MPLS; done; sleep 0.5; vtysh -N pkr-cumpl -b >/dev/null"
pid=$(cat /var/run/frr/pkr-cumpl/zebra.pid)
fi
nsenter -t $pid -u -n vtysh -N pkr-cumpl -c 'show running-config' > $out
