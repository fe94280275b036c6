#!/bin/sh
# runs inside: unshare -m -n -p -f --mount-proc ; $1 = variant (endurecido|debil), $2 = out dir
set -e
V=$1; OUT=$2; W=/tmp/linuxcap/ov-$V
rm -rf $W; mkdir -p $W/etc-up $W/etc-wk $W/log-up $W/log-wk
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir=$W/etc-up,workdir=$W/etc-wk /etc
mount -t overlay overlay -o lowerdir=/var/log,upperdir=$W/log-up,workdir=$W/log-wk /var/log
mount -t tmpfs tmpfs /run/chrony 2>/dev/null || { mkdir -p /run/chrony; mount -t tmpfs tmpfs /run/chrony; }
mkdir -p /run/sshd
ip link set lo up
# the machine's side (198.19.0.1) in a network namespace of its own, joined by a veth
unshare -n sleep 600 & SPID=$!
sleep 0.3
ip link add pkc0 type veth peer name pkc1
ip link set pkc1 netns $SPID
ip addr add 198.19.0.2/30 dev pkc0; ip link set pkc0 up
nsenter -t $SPID -n sh -c 'ip link set lo up; ip addr add 198.19.0.1/30 dev pkc1; ip link set pkc1 up'
# a reference NTP server on 198.19.0.1 (no clock control), the host's chronyd follows it
rm -rf /tmp/linuxcap/ntpsrv-$V; mkdir -p /tmp/linuxcap/ntpsrv-$V; rm -f /tmp/linuxcap/*-$V.pid
cat > /tmp/linuxcap/ntpsrv-$V/chrony.conf <<C
local stratum 8
allow all
bindaddress 198.19.0.1
cmdport 0
pidfile /tmp/linuxcap/ntpsrv-$V/pid
driftfile /tmp/linuxcap/ntpsrv-$V/drift
C
nsenter -t $SPID -n chronyd -x -f /tmp/linuxcap/ntpsrv-$V/chrony.conf
if [ "$V" = endurecido ]; then
  cat > /etc/chrony/chrony.conf <<C
server 198.19.0.1 iburst minpoll -2 maxpoll -2
driftfile /tmp/linuxcap/drift-client
makestep 1 3
C
  cat > /etc/ssh/sshd_config.d/00-pukara.conf <<C
PermitRootLogin no
PasswordAuthentication no
PermitEmptyPasswords no
KbdInteractiveAuthentication no
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512
ClientAliveInterval 300
ClientAliveCountMax 3
Banner /etc/issue.net
C
  printf 'Acceso solo para personal autorizado del ministerio. Toda actividad queda registrada.\n' > /etc/issue.net
  printf 'TMOUT=600\nreadonly TMOUT\nexport TMOUT\n' > /etc/profile.d/tmout.sh
  sed -i 's/^PASS_MAX_DAYS.*/PASS_MAX_DAYS\t365/' /etc/login.defs
  cat > /etc/pam.d/common-password <<C
password	requisite			pam_pwquality.so retry=3 minlen=14
password	required			pam_pwhistory.so remember=5 use_authtok
password	[success=1 default=ignore]	pam_unix.so obscure use_authtok try_first_pass yescrypt
password	requisite			pam_deny.so
password	required			pam_permit.so
C
  cat > /etc/pam.d/common-auth <<C
auth	required			pam_faillock.so preauth
auth	[success=1 default=ignore]	pam_unix.so
auth	[default=die]			pam_faillock.so authfail
auth	requisite			pam_deny.so
auth	required			pam_permit.so
C
  printf 'deny = 5\nunlock_time = 900\n' > /etc/security/faillock.conf
  cat > /etc/audit/rules.d/pukara.rules <<C
-w /etc/sudoers -p wa -k scope
-w /etc/sudoers.d -p wa -k scope
-w /etc/passwd -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/gshadow -p wa -k identity
-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged
-a always,exit -F path=/usr/bin/su -F perm=x -F auid>=1000 -F auid!=unset -k privileged
C
  mkdir -p /etc/modprobe.d
  printf 'install usb-storage /bin/false\nblacklist usb-storage\n' > /etc/modprobe.d/usb-storage.conf
  printf '*.* @@198.19.0.1:514\n' > /etc/rsyslog.d/90-pukara.conf
  cat > /etc/snmp/snmpd.conf <<C
agentaddress udp:198.19.0.2:161
view systemonly included .1.3.6.1.2.1.1
rouser authPrivUser authpriv -V systemonly
C
  printf 'Defaults\tenv_reset\nroot\tALL=(ALL:ALL) ALL\n%%sudo\tALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n' > /etc/sudoers
  mkdir -p /etc/sudoers.d
  printf 'auditoria ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/pukara-auditoria
  for f in $(find /var/log -xdev -type f -perm /o+rw); do case $f in /var/log/wtmp|/var/log/lastlog) ;; *) chmod o-rw "$f";; esac; done
  mkdir -p $W/lists && cp /var/lib/apt/lists/*bookworm-updates_InRelease /var/lib/apt/lists/*bookworm-updates_main_binary-amd64_Packages.lz4 $W/lists/
  mount --bind $W/lists /var/lib/apt/lists
  nft -f - <<C
table inet filter {
  chain input { type filter hook input priority 0; policy drop; iif lo accept; ct state established,related accept; tcp dport 22 accept; udp dport 161 accept; }
}
C
else
  # weak: root login and passwords, no time source, open SNMP community, v4-only firewall,
  # a world-writable file in /etc, a second UID 0, NOPASSWD for a person, an extra listener
  printf 'PermitRootLogin yes\nPasswordAuthentication yes\nCiphers aes128-cbc,aes128-ctr\nClientAliveInterval 0\n' > /etc/ssh/sshd_config.d/00-pukara.conf
  cat > /etc/chrony/chrony.conf <<C
pool 2.debian.pool.ntp.org iburst
C
  printf 'rocommunity public default\n' > /etc/snmp/snmpd.conf
  echo 'toor:x:0:0:root:/root:/bin/bash' >> /etc/passwd
  echo 'toor:*:20000:0:99999:7:::' >> /etc/shadow
  echo 'x' > /etc/pukara-debil.conf; chmod 666 /etc/pukara-debil.conf
  printf 'root\tALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n' > /etc/sudoers
  mkdir -p /etc/sudoers.d
  printf 'auditoria ALL=(ALL) NOPASSWD: ALL\noperador ALL=(ALL:ALL) NOPASSWD:ALL\n' > /etc/sudoers.d/pukara-auditoria
  printf 'ignorado ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/viejo.bak
  printf 'deb [trusted=yes] file:/srv/repo ./\n' > /etc/apt/sources.list.d/lab.list
  printf 'TMOUT=3600\n' > /etc/profile.d/tmout.sh
  nft -f - <<C
table ip filter {
  chain input { type filter hook input priority 0; policy drop; iif lo accept; tcp dport 22 accept; }
}
C
  python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 &
  /usr/sbin/inetd 2>/dev/null || true
fi
chronyd -x
rsyslogd -i /tmp/linuxcap/rsyslog-$V.pid 2>/dev/null || true
SNMP_PERSISTENT_DIR=/tmp/linuxcap/snmp-$V snmpd -C -c /etc/snmp/snmpd.conf -I -smux -p /tmp/linuxcap/snmpd-$V.pid -Lf /dev/null
/usr/sbin/sshd
sleep 6
cd /tmp/linuxcap && mkdir -p $OUT && rm -f $OUT/*.txt && RAWDIR=$OUT /work/wt/linux/.venv/bin/python cap.py > $OUT.log 2>&1
chronyc -n sources >> $OUT.log 2>&1
