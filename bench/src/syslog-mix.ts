/**
 * The realistic mixed syslog stream of the ingest benchmarks: a deterministic mix of the
 * formats a Chinese enterprise network sends, RFC 3164 and 5424 — sshd failures and logins,
 * sudo, iptables, nginx, Cisco ASA, FortiGate and Huawei USG, one in eight lines each.
 * Shared by `bench:parse` (parse-only, one core) and `bench:ingest` (end to end),
 * so both measure the same lines. No side effects on import.
 */

/**
 * Line `i` of the mix (no trailing newline).
 *
 * @example
 * makeLine(0); // '<38>Nov 28 10:00:01 bastion sshd[1000]: Failed password for root from 10.0.0.0 port 20000 ssh2'
 */
export function makeLine(i: number): string {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const user = ['root', 'admin', 'alice', 'bob', 'zhangwei', 'oracle'][i % 6];
  const t = new Date(Date.UTC(2026, 10, 28, 2, 0, 0) + (i % 3_600_000)).toISOString();
  switch (i % 8) {
    case 0:
      return `<38>Nov 28 10:${String(i % 60).padStart(2, '0')}:01 bastion sshd[${1000 + (i % 5000)}]: Failed password for ${user} from ${ip} port ${20000 + (i % 40000)} ssh2`;
    case 1:
      return `<38>Nov 28 10:00:02 bastion sshd[811]: Accepted publickey for ${user} from ${ip} port 51000 ssh2: RSA SHA256:abcdefghijklmnop`;
    case 2:
      return `<85>1 ${t} web01 sudo - - - ${user} : TTY=pts/1 ; PWD=/home/${user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx`;
    case 3:
      return `<4>Nov 28 10:00:03 fw01 kernel: [12345.678] IPTABLES-DROP: IN=eth0 OUT= MAC=00:11:22:33:44:55 SRC=${ip} DST=192.168.1.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=${1024 + (i % 60000)} DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0`;
    case 4:
      return `<190>1 ${t} web01 nginx - - - ${ip} - - [28/Nov/2026:10:00:04 +0800] "GET /api/v1/items?id=${i} HTTP/1.1" 200 ${512 + (i % 4096)} "-" "Mozilla/5.0"`;
    case 5:
      return `<166>Nov 28 2026 10:00:05: %ASA-6-302013: Built inbound TCP connection ${i} for outside:${ip}/${1024 + (i % 60000)} (${ip}/${1024 + (i % 60000)}) to inside:192.168.1.20/443 (203.0.113.9/443)`;
    case 6:
      return `<189>date=2026-11-28 time=10:00:06 devname="FGT60F" devid="FGT60FTK0000" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=${ip} srcport=${1024 + (i % 60000)} dstip=8.8.8.8 dstport=53 proto=17 action="accept" sentbyte=${64 + (i % 500)} rcvdbyte=128`;
    default:
      return `<188>Nov 28 2026 10:00:07 HUAWEI-USG %%01SHELL/5/LOGIN(s)[${i % 100}]:VTY User ${user} login from ${ip}.`;
  }
}
